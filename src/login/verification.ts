import { eq } from "drizzle-orm";
import { ocspSettingsOf, trustSettingsOf } from "../admin/tls-cert-auth.ts";
import type { Db } from "../db/client.ts";
import { identityTlsCertAuths } from "../db/schema.ts";
import { verifyDecoded, type DecodedLeaf, type DistributionPointCrls, type OcspLookup, type TrustCache } from "../pki/index.ts";
import { DP_LOGIN_BUDGET_MS } from "../revocation/distribution-points.ts";
import { OCSP_LOGIN_BUDGET_MS } from "../revocation/ocsp.ts";
import { loadFetchedCrls } from "../revocation/crls.ts";
import { refusedChain, tlsCertAuthNotAttached } from "./refusals.ts";

/** Judges the chain against the TLS cert auth at `version`; throws the refusal. */
export async function verify(
  deps: { db: Db; trustCache: TrustCache; ocsp?: OcspLookup; crls?: (configId: string) => DistributionPointCrls },
  tlsCertAuth: { id: string; version: string },
  leaf: DecodedLeaf,
  chain: Uint8Array[],
  now: Date,
): Promise<void> {
  const trust = await deps.trustCache.get(`${tlsCertAuth.id}:${tlsCertAuth.version}`, () => loadTrustSettings(deps.db, tlsCertAuth.id));
  const network = {
    ocsp: deps.ocsp && { lookup: deps.ocsp, deadline: Date.now() + OCSP_LOGIN_BUDGET_MS },
    crls: trust.distributionPoints && deps.crls ? { crls: deps.crls(tlsCertAuth.id), deadline: Date.now() + DP_LOGIN_BUDGET_MS } : undefined,
  };
  const verdict = await verifyDecoded(trust, leaf.certificate, chain, now, network);
  if (!verdict.ok) throw refusedChain(verdict);
}

async function loadTrustSettings(db: Db, id: string) {
  const [row] = await db.select().from(identityTlsCertAuths).where(eq(identityTlsCertAuths.id, id)).limit(1);
  if (!row) throw tlsCertAuthNotAttached();
  return { ...trustSettingsOf(row), ocsp: ocspSettingsOf(row), fetchedCrls: await loadFetchedCrls(db, id) };
}
