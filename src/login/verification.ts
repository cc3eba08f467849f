import { eq } from "drizzle-orm";
import { ocspSettingsOf, trustSettingsOf } from "../admin/tls-cert-auth.ts";
import type { Db } from "../db/client.ts";
import { identityTlsCertAuths } from "../db/schema.ts";
import { busy } from "../errors.ts";
import {
  TrustConfigBusy,
  verifyDecoded,
  type CompiledTrust,
  type CrlDecoder,
  type DecodedLeaf,
  type DistributionPointCrls,
  type OcspLookup,
  type TrustCache,
} from "../pki/index.ts";
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
  /** How long a login waits for its configuration's compilation; COMPILE_LOGIN_BUDGET_MS unless set. */
  compileBudgetMs?: number;
}

/** The longest a login waits for its configuration to be compiled (its CRLs decoded) before it answers 503. */
export const COMPILE_LOGIN_BUDGET_MS = 5_000;

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
  const key = `${tlsCertAuth.id}:${tlsCertAuth.version}`;
  const trust = deps.trustCache.compiled(key) ?? (await compile(deps, key, tlsCertAuth.id, tenant));
  const network = {
    ocsp: deps.ocsp && { lookup: deps.ocsp, deadline: Date.now() + OCSP_LOGIN_BUDGET_MS },
    crls: trust.distributionPoints && deps.crls ? { crls: deps.crls(tlsCertAuth.id, tenant), deadline: Date.now() + DP_LOGIN_BUDGET_MS } : undefined,
  };
  const verdict = await verifyDecoded(trust, leaf.certificate, chain, now, network);
  if (!verdict.ok) throw refusedChain(verdict);
}

/**
 * A configuration not compiled yet: the login waits for it at most COMPILE_LOGIN_BUDGET_MS (the compilation goes
 * on, for the logins after it). No room in the decoder, or no answer in time, is a 503 with Retry-After; the
 * decoder's own sentence (how many CRLs wait) is not for an unauthenticated client.
 */
async function compile(deps: VerificationDeps, key: string, configId: string, tenant: string): Promise<CompiledTrust> {
  const compiling = deps.trustCache.get(key, () => loadTrustSettings(deps.db, configId), deps.decoderFor?.(tenant), tenant);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), deps.compileBudgetMs ?? COMPILE_LOGIN_BUDGET_MS)));
  try {
    const trust = await Promise.race([compiling, late]);
    if (trust === "late") throw busy("The identity's TLS cert auth could not be loaded in time: its CRLs are still being decoded; try again later.");
    return trust;
  } catch (err) {
    if (err instanceof TrustConfigBusy) throw busy("The identity's TLS cert auth could not be loaded now: its CRLs are waiting to be decoded; try again later.");
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function loadTrustSettings(db: Db, id: string) {
  const [row] = await db.select().from(identityTlsCertAuths).where(eq(identityTlsCertAuths.id, id)).limit(1);
  if (!row) throw tlsCertAuthNotAttached();
  return { ...trustSettingsOf(row), ocsp: ocspSettingsOf(row), fetchedCrls: await loadFetchedCrls(db, id) };
}
