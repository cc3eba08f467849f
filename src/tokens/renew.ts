import { presentedBinding } from "./binding.ts";
import { firstRefusal, refusalOf } from "./checks.ts";
import { verifyAccessToken } from "./claims.ts";
import { renewedExpiry } from "./lifetime.ts";
import { refuse } from "./refusal.ts";
import type { TokenDeps, UseRequest } from "./use.ts";

export interface RenewAnswer {
  accessToken: string;
  /** Seconds the renewed token actually lives. */
  expiresIn: number;
  accessTokenMaxTTL: number;
  tokenType: "Bearer";
}

/**
 * A new JWT for the same token (same `jti`, new `exp`). The token must pass every check a use makes, judged
 * in the same statement that extends it, and spends no use. The new expiry is now + TTL capped at createdAt +
 * max TTL (and MAX_TOKEN_TTL), so a token already living until its max renews to the time it has left; only
 * once nothing is left is renewal refused (`max_ttl_reached`): log in again.
 */
export async function renewToken(deps: TokenDeps, token: string, request: UseRequest): Promise<RenewAnswer> {
  const now = deps.clock();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const claims = await verifyAccessToken(deps.signer, token, now);
  const binding = await presentedBinding(claims, request.clientCertificate);
  const check = { now, clientIp: request.clientIp, claimMatches: binding.claimMatches, presented: binding.presented };

  // The lifetime's inputs (creation, TTL, max TTL) never change after login, so they may be read first.
  const state = await deps.tokens.read(claims.jti, request.clientIp);
  if (!state) throw refusalOf(null, now, binding.matches);
  const expiry = renewedExpiry(state, state.createdAt, now, deps.config.MAX_TOKEN_TTL);
  const exp = expiry ? Math.floor(expiry.getTime() / 1000) : nowSeconds;
  if (exp <= nowSeconds) {
    throw firstRefusal(state, now, binding.matches(state)) ?? refuse("max_ttl_reached", "The access token has reached its maximum TTL; log in again.");
  }

  const judged = await deps.tokens.renew(claims.jti, check, new Date(exp * 1000));
  if (!judged?.outcome) throw refusalOf(judged, now, binding.matches);

  const { iat: _iat, exp: _exp, ...carried } = claims;
  const accessToken = await deps.signer.sign(carried, nowSeconds, exp);
  return { accessToken, expiresIn: exp - nowSeconds, accessTokenMaxTTL: state.accessTokenMaxTTL, tokenType: "Bearer" };
}
