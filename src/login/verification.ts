import { eq } from "drizzle-orm";
import { ocspSettingsOf, trustSettingsOf } from "../admin/tls-cert-auth.ts";
import type { Db } from "../db/client.ts";
import { identityTlsCertAuths } from "../db/schema.ts";
import { busy } from "../errors.ts";
import { TrustConfigBusy, verifyDecoded, type CrlDecoder, type DecodedLeaf, type DistributionPointCrls, type OcspLookup, type TrustCache } from "../pki/index.ts";
import { DP_LOGIN_BUDGET_MS } from "../revocation/distribution-points.ts";
import { OCSP_LOGIN_BUDGET_MS } from "../revocation/ocsp.ts";
import { loadFetchedCrls } from "../revocation/crls.ts";
import { refusedChain, tlsCertAuthNotAttached } from "./refusals.ts";

export interface VerificationDeps {
  db: Db;
  trustCache: TrustCache;
  /** How a tenant's (a root organization's) logins decode CRLs, waiting their turn with other tenants'; without it, the trust cache's own decoder. */
  decoderFor?: (tenant: string) => CrlDecoder;
  /** OCSP for configurations with ocspEnabled; without it, no OCSP is asked. */
  ocsp?: OcspLookup;
  /** CRLs of distribution points for configurations with useCrlDistributionPoints, decoded as the tenant's; without it, none is fetched. */
  crls?: (configId: string, tenant: string) => DistributionPointCrls;
}

/**
 * Judges the chain against the TLS cert auth at `version` of an identity of `tenant` (its root organization);
 * throws the refusal. A configuration that cannot be compiled now because the CRL decoder has no room for its
 * tenant answers 503 with Retry-After: nobody is logged in on a guess, and the same login succeeds later.
 */
export async function verify(
  deps: VerificationDeps,
  tlsCertAuth: { id: string; version: string },
  tenant: string,
  leaf: DecodedLeaf,
  chain: Uint8Array[],
  now: Date,
): Promise<void> {
  let trust;
  try {
    trust = await deps.trustCache.get(`${tlsCertAuth.id}:${tlsCertAuth.version}`, () => loadTrustSettings(deps.db, tlsCertAuth.id), deps.decoderFor?.(tenant));
  } catch (err) {
    // The decoder's own sentence (how many CRLs wait) is not for an unauthenticated client.
    if (err instanceof TrustConfigBusy) throw busy("The identity's TLS cert auth could not be loaded now: its CRLs are waiting to be decoded; try again later.");
    throw err;
  }
  const network = {
    ocsp: deps.ocsp && { lookup: deps.ocsp, deadline: Date.now() + OCSP_LOGIN_BUDGET_MS },
    crls: trust.distributionPoints && deps.crls ? { crls: deps.crls(tlsCertAuth.id, tenant), deadline: Date.now() + DP_LOGIN_BUDGET_MS } : undefined,
  };
  const verdict = await verifyDecoded(trust, leaf.certificate, chain, now, network);
  if (!verdict.ok) throw refusedChain(verdict);
}

async function loadTrustSettings(db: Db, id: string) {
  const [row] = await db.select().from(identityTlsCertAuths).where(eq(identityTlsCertAuths.id, id)).limit(1);
  if (!row) throw tlsCertAuthNotAttached();
  return { ...trustSettingsOf(row), ocsp: ocspSettingsOf(row), fetchedCrls: await loadFetchedCrls(db, id) };
}
