import { verifyAccessToken, type AccessTokenClaims } from "./claims.ts";
import { readTokenState, type TokenState } from "./state.ts";
import { usesRemaining, type TokenDeps } from "./use.ts";

export type Introspection =
  | { active: false }
  | {
      active: true;
      sub: string;
      exp: number;
      iat: number;
      jti: string;
      token_type: "Bearer";
      client_id: string;
      identityId: string;
      orgId: string;
      rootOrgId: string;
      authMethod: string;
      cnf?: { "x5t#S256": string };
      numUses: number;
      numUsesLimit: number;
      numUsesRemaining: number | null;
    };

/**
 * RFC 7662 in spirit: whether the token would be accepted now, apart from the request-dependent checks (client
 * IP and certificate), and what it says. Spends no use. `mayInspect` hides tokens outside the caller's scope:
 * they are answered `{ active: false }`, as RFC 7662 §2.2 allows.
 */
export async function introspectToken(
  deps: Pick<TokenDeps, "db" | "signer" | "clock">,
  token: string,
  mayInspect: (state: TokenState) => boolean = () => true,
): Promise<Introspection> {
  const now = deps.clock();
  let claims: AccessTokenClaims;
  try {
    claims = await verifyAccessToken(deps.signer, token, now);
  } catch {
    return { active: false };
  }
  const state = await readTokenState(deps.db, claims.jti);
  if (!state || !mayInspect(state)) return { active: false };
  const exhausted = state.numUsesLimit > 0 && state.numUses >= state.numUsesLimit;
  if (state.revokedAt || state.expiresAt.getTime() <= now.getTime() || !state.configured || exhausted) return { active: false };
  return {
    active: true,
    sub: claims.sub,
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
    token_type: "Bearer",
    client_id: claims.identityId,
    identityId: claims.identityId,
    orgId: claims.orgId,
    rootOrgId: claims.rootOrgId,
    authMethod: claims.authMethod,
    ...(claims.cnf ? { cnf: claims.cnf } : {}),
    numUses: state.numUses,
    numUsesLimit: state.numUsesLimit,
    numUsesRemaining: usesRemaining(state.numUsesLimit, state.numUses),
  };
}
