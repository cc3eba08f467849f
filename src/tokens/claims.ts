import { errors } from "jose";
import type { TokenSigner } from "./signer.ts";
import { refuse } from "./refusal.ts";
import { isUuid } from "../uuid.ts";

/** The claims login puts in an access token (PRODUCT §2.4). */
export interface AccessTokenClaims {
  sub: string;
  identityId: string;
  orgId: string;
  rootOrgId: string;
  authMethod: string;
  authTokenType: "identityAccessToken";
  jti: string;
  iat: number;
  exp: number;
  cnf?: { "x5t#S256": string };
  aud?: string | string[];
  [claim: string]: unknown;
}

/**
 * What login signs: the claims above but iss, iat and exp, which the signer sets; `identityAccessTokenId` as
 * Infisical names the jti; and the claims of claimMappings.
 */
export type ClaimsToSign = Pick<AccessTokenClaims, "sub" | "identityId" | "orgId" | "rootOrgId" | "authMethod" | "authTokenType" | "jti" | "cnf" | "aud"> & {
  identityAccessTokenId: string;
  [mapped: string]: unknown;
};


/**
 * Signature, algorithm, key and expiry, checked in memory; then the claims an access token must carry.
 * `alg: none`, an unknown kid, a changed alg and a foreign key are all `invalid_token`. `allowExpired` is for
 * revocation, which must not fail on a token that has just expired.
 */
export async function verifyAccessToken(
  signer: TokenSigner,
  token: string,
  now: Date,
  options: { allowExpired?: boolean } = {},
): Promise<AccessTokenClaims> {
  let payload: Record<string, unknown>;
  try {
    payload = await signer.verify(token, now);
  } catch (err) {
    // jose authenticates a token before it validates its claims, so an expired token's payload is trustworthy.
    if (err instanceof errors.JWTExpired && options.allowExpired) payload = err.payload;
    else if (err instanceof errors.JWTExpired) throw refuse("token_expired", "The access token has expired.");
    else throw refuse("invalid_token", "The access token is not valid.");
  }
  if (!isAccessToken(payload)) throw refuse("invalid_token", "The access token is not valid.");
  return payload;
}

function isAccessToken(p: Record<string, unknown>): p is AccessTokenClaims {
  const cnf = p.cnf as Record<string, unknown> | undefined;
  return (
    typeof p.jti === "string" &&
    isUuid(p.jti) &&
    typeof p.sub === "string" &&
    p.identityId === p.sub &&
    typeof p.orgId === "string" &&
    typeof p.rootOrgId === "string" &&
    typeof p.authMethod === "string" &&
    p.authTokenType === "identityAccessToken" &&
    typeof p.iat === "number" &&
    typeof p.exp === "number" &&
    (cnf === undefined || (typeof cnf === "object" && cnf !== null && typeof cnf["x5t#S256"] === "string"))
  );
}

/** The certificate thumbprint a bound token is tied to, or undefined. */
export function boundThumbprint(claims: AccessTokenClaims): string | undefined {
  return claims.cnf?.["x5t#S256"];
}
