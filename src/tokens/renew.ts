import { sql } from "drizzle-orm";
import { verifyAccessToken } from "./claims.ts";
import { renewedExpiry } from "./lifetime.ts";
import { refuse } from "./refusal.ts";
import { inetOrNull, rowsOf, targetCte, toState } from "./state.ts";
import { firstRefusal, presentedBinding, type TokenDeps, type UseRequest } from "./use.ts";

export interface RenewAnswer {
  accessToken: string;
  /** Seconds the renewed token actually lives. */
  expiresIn: number;
  accessTokenMaxTTL: number;
  tokenType: "Bearer";
}

/**
 * A new JWT for the same token (same `jti`, new `exp`). The token must pass every check a use makes, without
 * spending a use; the new expiry is now + TTL capped at createdAt + max TTL (and MAX_TOKEN_TTL), as Infisical
 * does, so a token already living until its max renews to the time it has left. Only once nothing is left is
 * renewal refused (`max_ttl_reached`): log in again.
 */
export async function renewToken(deps: TokenDeps, token: string, request: UseRequest): Promise<RenewAnswer> {
  const now = deps.clock();
  const claims = await verifyAccessToken(deps.signer, token, now);
  const binding = await presentedBinding(claims, request);
  const [row] = rowsOf(
    await deps.db.execute(sql`with ${targetCte(claims.jti, inetOrNull(request.clientIp))} select * from target`),
  );
  if (!row) throw refuse("token_revoked", "The access token has been revoked or its identity no longer exists.");
  const state = toState(row);
  const refusal = firstRefusal(state, now, binding.matches(state));
  if (refusal) throw refusal;

  const nowSeconds = Math.floor(now.getTime() / 1000);
  const ceiling = deps.config.MAX_TOKEN_TTL;
  const expiry = renewedExpiry(state, state.createdAt, now, ceiling);
  const exp = expiry ? Math.floor(expiry.getTime() / 1000) : nowSeconds;
  if (exp <= nowSeconds) throw refuse("max_ttl_reached", "The access token has reached its maximum TTL; log in again.");

  const [updated] = rowsOf(
    await deps.db.execute(sql`
      update identity_access_tokens
      set expires_at = greatest(expires_at, ${new Date(exp * 1000).toISOString()}::timestamptz),
          last_renewed_at = ${now.toISOString()}::timestamptz
      where id = ${claims.jti}::uuid and revoked_at is null
      returning id`),
  );
  if (!updated) throw refuse("token_revoked", "The access token has been revoked.");

  const { iat: _iat, exp: _exp, ...carried } = claims;
  const accessToken = await deps.signer.sign(carried, nowSeconds, exp);
  return { accessToken, expiresIn: exp - nowSeconds, accessTokenMaxTTL: state.accessTokenMaxTTL, tokenType: "Bearer" };
}
