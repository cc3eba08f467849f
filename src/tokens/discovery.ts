import { z } from "@hono/zod-openapi";
import type { SigningAlg } from "./signer.ts";

/** OpenID Connect Discovery 1.0 metadata for certauth as the issuer of its access tokens (PRODUCT §2.4). */
export const discoveryDocument = z
  .object({
    issuer: z.string(),
    jwks_uri: z.string(),
    id_token_signing_alg_values_supported: z.array(z.string()),
    subject_types_supported: z.array(z.string()),
    response_types_supported: z.array(z.string()),
    claims_supported: z.array(z.string()),
  })
  .openapi("OpenIdConfiguration");

/** The claims every token may carry; the names of claimMappings are per identity and not listed. */
const CLAIMS = ["iss", "sub", "aud", "exp", "iat", "jti", "cnf", "identityId", "identityAccessTokenId", "orgId", "rootOrgId", "authMethod", "authTokenType"];

/**
 * The discovery document, or null under HS256: a relying party cannot verify an HMAC token without the
 * secret, so certauth does not announce itself as an issuer it could trust.
 */
export function openIdConfiguration(issuer: string, alg: SigningAlg): z.infer<typeof discoveryDocument> | null {
  if (alg === "HS256") return null;
  return {
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    id_token_signing_alg_values_supported: [alg],
    subject_types_supported: ["public"],
    response_types_supported: ["id_token"],
    claims_supported: CLAIMS,
  };
}
