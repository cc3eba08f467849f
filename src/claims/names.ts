/**
 * Claim names a `claimMappings` entry may not take (compared ignoring case), so that a mapped value can
 * never pose as a claim with a meaning: the registered claims of JWT (RFC 7519), proof of possession
 * (RFC 7800), token exchange (RFC 8693), JWT access tokens (RFC 9068) and OpenID Connect's ID token
 * protocol claims; certauth's own claims; and the members of the self and introspection answers, where
 * mapped claims appear beside them. No imports: `certauth/middleware` uses it too.
 */
export const RESERVED_CLAIM_NAMES: ReadonlySet<string> = new Set(
  [
    // RFC 7519, RFC 7800, RFC 8693, RFC 9068, RFC 9449 (DPoP)
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "cnf", "act", "may_act", "scope", "scp", "client_id", "auth_time",
    "acr", "amr", "htm", "htu", "ath", "jkt",
    // OpenID Connect Core: ID token and verification claims
    "azp", "nonce", "at_hash", "c_hash", "s_hash", "sid", "email_verified", "phone_number_verified", "updated_at",
    "events", "txn", "sub_jwk", "typ", "cty", "alg", "kid", "crit",
    // certauth's claims
    "identityId", "orgId", "rootOrgId", "authMethod", "authTokenType", "identityAccessTokenId",
    // the members of the self and introspection answers
    "active", "token_type", "username", "createdAt", "expiresAt", "accessTokenTTL", "accessTokenMaxTTL", "numUses",
    "numUsesLimit", "numUsesRemaining", "certificateBound",
  ].map((name) => name.toLowerCase()),
);

export const isReservedClaimName = (name: string): boolean => RESERVED_CLAIM_NAMES.has(name.toLowerCase());

/** Values a mapping puts in a token: one string, or several. */
export type MappedClaims = Record<string, string | string[]>;

/** The claims of a token that came from `claimMappings`: every claim whose name no mapping may take. */
export function mappedClaimsOf(claims: Record<string, unknown>): MappedClaims {
  const out: MappedClaims = {};
  for (const [name, value] of Object.entries(claims)) {
    if (isReservedClaimName(name)) continue;
    if (typeof value === "string" || (Array.isArray(value) && value.every((v) => typeof v === "string"))) out[name] = value;
  }
  return out;
}
