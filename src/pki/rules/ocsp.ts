import type { ParsedCertificate } from "../lib/certificate.ts";
import type { OcspLookup, OcspSettings, RuleResult } from "../types.ts";

/**
 * OCSP, on a path that passed every other rule: the leaf, and in chain mode each intermediate, asked in turn
 * (the anchor is configured, not asked about). revoked → certificate_revoked; unknown or no usable answer →
 * revocation_status_unavailable, unless ocspFailOpen.
 */
export async function checkOcsp(
  path: readonly ParsedCertificate[],
  chainMode: boolean,
  settings: OcspSettings,
  lookup: OcspLookup,
  now: Date,
  deadline: number,
): Promise<RuleResult> {
  const asked = chainMode ? path.length - 1 : 1;
  for (let i = 0; i < asked; i++) {
    const answer = await lookup(path[i]!, path[i + 1]!, settings, now, deadline);
    if (answer.status === "good") continue;
    if (answer.status === "revoked") return { reason: "certificate_revoked", message: answer.message };
    if (!settings.failOpen) return { reason: "revocation_status_unavailable", message: answer.message };
  }
  return null;
}
