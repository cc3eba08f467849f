import { mappedClaimsOf } from "../claims/names.ts";
import { verifyAccessToken, type AccessTokenClaims } from "./claims.ts";
import { presentedBinding } from "./binding.ts";
import { certificateMismatch, exhausted, ipNotTrusted } from "./checks.ts";
import type { TokenState } from "./store.ts";
import { usesRemaining, type TokenDeps, type UseRequest } from "./use.ts";

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
      iss?: string;
      aud?: string | string[];
      numUses: number;
      numUsesLimit: number;
      numUsesRemaining: number | null;
      /** The claims of claimMappings. */
      [mapped: string]: unknown;
    };

/**
 * Who asks: the admin (any token), an admin identity (tokens in its scope), or the token itself, which brings
 * the request it came in.
 */
export type Introspector =
  | { kind: "admin" }
  | { kind: "scoped"; mayInspect: (state: TokenState) => boolean }
  | { kind: "self"; request: UseRequest };

/**
 * RFC 7662 in spirit: whether the token would be accepted now, apart from the request-dependent checks (client
 * IP and certificate), and what it says. Spends no use. A token out of a scoped caller's reach is answered
 * `{ active: false }`, as RFC 7662 §2.2 allows. A token asking about itself is refused from outside its
 * trusted IPs and, when bound, without its certificate, as `self` is (PRODUCT §2.4).
 */
export async function introspectToken(
  deps: Pick<TokenDeps, "tokens" | "signer" | "clock">,
  token: string,
  caller: Introspector = { kind: "admin" },
): Promise<Introspection> {
  const now = deps.clock();
  let claims: AccessTokenClaims;
  try {
    claims = await verifyAccessToken(deps.signer, token, now);
  } catch {
    return { active: false };
  }
  const binding = caller.kind === "self" ? await presentedBinding(claims, caller.request.clientCertificate) : null;
  const state = await deps.tokens.read(claims.jti, caller.kind === "self" ? caller.request.clientIp : null);
  if (!state || (caller.kind === "scoped" && !caller.mayInspect(state))) return { active: false };
  // Before any answer, in the order `self` checks them: from an untrusted IP, or without its certificate, a
  // token learns nothing about itself, not even that it was revoked. Detached, it has no trusted IPs to check.
  if (caller.kind === "self" && state.configured && !state.ipTrusted) throw ipNotTrusted();
  if (binding && !binding.matches(state)) throw certificateMismatch();
  if (state.revokedAt || state.expiresAt.getTime() <= now.getTime() || !state.configured || exhausted(state)) return { active: false };
  return {
    ...mappedClaimsOf(claims),
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
    ...(typeof claims.iss === "string" ? { iss: claims.iss } : {}),
    ...(claims.aud !== undefined ? { aud: claims.aud } : {}),
    numUses: state.numUses,
    numUsesLimit: state.numUsesLimit,
    numUsesRemaining: usesRemaining(state.numUsesLimit, state.numUses),
  };
}
