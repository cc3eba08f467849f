import type { TokenAnswer } from "./answer.ts";
import { presentedBinding } from "./binding.ts";
import { refusalOf } from "./checks.ts";
import { verifyAccessToken } from "./claims.ts";
import { renewedExpiry } from "./lifetime.ts";
import { refuse } from "./refusal.ts";
import type { TokenDeps, UseRequest } from "./use.ts";

/**
 * A new JWT for the same token (same `jti`, new `exp`). The token must pass every check a use makes, judged
 * in the same statement that extends it, and spends no use. The new expiry is now + TTL capped at createdAt +
 * max TTL (and MAX_TOKEN_TTL), so a token already living until its max renews to the time it has left; only
 * once nothing is left is renewal refused (`max_ttl_reached`): log in again.
 */
export async function renewToken(deps: TokenDeps, token: string, request: UseRequest): Promise<TokenAnswer> {
  const now = deps.clock();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const claims = await verifyAccessToken(deps.signer, token, now);
  const binding = await presentedBinding(claims, request.clientCertificate);
  const check = { now, clientIp: request.clientIp, claimMatches: binding.claimMatches, presented: binding.presented };

  // Only the lifetime is read first: it never changes after login, and every other check is judged in the statement that extends.
  const lifetime = await deps.tokens.lifetime(claims.jti);
  if (!lifetime) throw refusalOf(null, now, binding.matches);
  const expiry = renewedExpiry(lifetime, lifetime.createdAt, now, deps.config.MAX_TOKEN_TTL);
  const exp = expiry ? Math.floor(expiry.getTime() / 1000) : nowSeconds;
  if (exp <= nowSeconds) {
    // The other checks still come first: a revoked token is told so, not to log in again.
    throw refusalOf(await deps.tokens.read(claims.jti, request.clientIp), now, binding.matches, maxTtlReached);
  }

  const judged = await deps.tokens.renew(claims.jti, check, new Date(exp * 1000));
  if (!judged?.outcome) throw refusalOf(judged?.state ?? null, now, binding.matches);

  const { iat: _iat, exp: _exp, ...carried } = claims;
  const accessToken = await deps.signer.sign(carried, nowSeconds, exp);
  return { accessToken, expiresIn: exp - nowSeconds, accessTokenMaxTTL: lifetime.accessTokenMaxTTL, tokenType: "Bearer" };
}

const maxTtlReached = () => refuse("max_ttl_reached", "The access token has reached its maximum TTL; log in again.");
