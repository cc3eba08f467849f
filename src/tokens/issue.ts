import { AUTH_METHOD } from "../auth-method.ts";
import type { Db } from "../db/client.ts";
import type { DecodedLeaf } from "../pki/index.ts";
import { certificateThumbprint } from "./binding.ts";
import type { TokenAnswer } from "./answer.ts";
import { claimsFromCertificate } from "../claims/mappings.ts";
import type { ClaimsToSign } from "./claims.ts";
import { initialLifetime } from "./lifetime.ts";
import { issuedRecords } from "./issued-record.ts";
import type { TokenSigner } from "./signer.ts";

/** What a token is issued for, and what it was verified against (checked again when it is written). */
export interface Grant {
  identityId: string;
  /** The organization the token is scoped to. */
  orgId: string;
  home: { id: string; slug: string; rootOrgId: string };
  tlsCertAuth: {
    id: string;
    version: string;
    accessTokenTTL: number;
    accessTokenMaxTTL: number;
    accessTokenNumUsesLimit: number;
    bindTokensToCertificate: boolean;
    tokenAudiences: string[] | null;
    claimMappings: Record<string, string> | null;
  };
  leafDer: Uint8Array;
  /** The verified leaf. */
  leaf: DecodedLeaf;
  clientIp: string;
  now: Date;
}

export interface IssueDeps {
  db: Db;
  signer: TokenSigner;
  /** MAX_TOKEN_TTL: no token lives longer. */
  maxTokenTtl: number;
}

/** Signs a token and records it with its audit event; null when what it was verified against is no longer current. */
export function tokenIssuer(deps: IssueDeps): (grant: Grant) => Promise<TokenAnswer | null> {
  const record = issuedRecords(deps.db);
  return async (grant) => {
    const auth = grant.tlsCertAuth;
    const lifetime = initialLifetime(auth, deps.maxTokenTtl);
    const iat = Math.floor(grant.now.getTime() / 1000);
    const jti = crypto.randomUUID();
    const thumbprint = auth.bindTokensToCertificate ? await certificateThumbprint(grant.leafDer) : null;
    const audiences = auth.tokenAudiences ?? [];
    const claims: ClaimsToSign = {
      // Mapped names never collide with the claims below (refused at attach); they come first all the same.
      ...claimsFromCertificate(auth.claimMappings, grant.leaf),
      sub: grant.identityId,
      identityId: grant.identityId,
      orgId: grant.orgId,
      rootOrgId: grant.home.rootOrgId,
      authMethod: AUTH_METHOD,
      authTokenType: "identityAccessToken",
      jti,
      identityAccessTokenId: jti,
      ...(thumbprint ? { cnf: { "x5t#S256": thumbprint } } : {}),
      // One audience as a string, several as a list (RFC 7519 §4.1.3 allows both).
      ...(audiences.length ? { aud: audiences.length === 1 ? audiences[0]! : audiences } : {}),
    };
    // Signing and the durable write overlap; nothing is answered before the write has committed.
    const [accessToken, written] = await Promise.all([
      deps.signer.sign(claims, iat, iat + lifetime),
      record({
        id: jti,
        identityId: grant.identityId,
        orgId: grant.orgId,
        createdAt: new Date(iat * 1000),
        expiresAt: new Date((iat + lifetime) * 1000),
        accessTokenTTL: auth.accessTokenTTL,
        accessTokenMaxTTL: auth.accessTokenMaxTTL,
        numUsesLimit: auth.accessTokenNumUsesLimit,
        certThumbprint: thumbprint,
        configId: auth.id,
        configVersion: auth.version,
        homeOrgId: grant.home.id,
        homeOrgSlug: grant.home.slug,
        fingerprint: grant.leaf.summary.fingerprint,
        subject: grant.leaf.summary.subject,
        clientIp: grant.clientIp,
      }),
    ]);
    if (!written) return null;
    return { accessToken, expiresIn: lifetime, accessTokenMaxTTL: auth.accessTokenMaxTTL, tokenType: "Bearer" };
  };
}
