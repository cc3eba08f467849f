import type { ParsedCertificate } from "../lib/certificate.ts";
import { KEY_POLICY } from "../lib/crypto-policy.ts";
import type { RuleResult } from "../types.ts";

/** Every key on the path, the leaf's and the trust anchor's included, must meet the crypto policy. */
export function checkKeys(path: readonly ParsedCertificate[]): RuleResult {
  const weak = path.find((cert) => cert.weakKey !== null);
  if (!weak) return null;
  return {
    reason: "weak_key",
    message: `The certificate "${weak.subject}" has ${weak.weakKey}; ${KEY_POLICY}.`,
  };
}
