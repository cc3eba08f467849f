import { verifyAccessToken } from "./claims.ts";
import type { TokenDeps } from "./use.ts";

/**
 * Marks the token revoked; every instance refuses its next use, since every use reads the row.
 * Anyone holding a token with a valid signature may revoke it, also once it has expired.
 */
export async function revokeToken(deps: Pick<TokenDeps, "tokens" | "signer" | "clock">, token: string): Promise<void> {
  const now = deps.clock();
  const claims = await verifyAccessToken(deps.signer, token, now, { allowExpired: true });
  await deps.tokens.revoke(claims.jti, now);
}
