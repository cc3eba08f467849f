import * as x509 from "../x509.ts";
import type { ParsedCertificate } from "../lib/certificate.ts";
import type { RuleResult } from "../types.ts";

/**
 * In chain mode every CA on the path, the trust anchor included, must be marked as a CA
 * (basicConstraints cA=true) and, when it has a keyUsage extension, allow keyCertSign.
 */
export function checkCaConstraints(path: readonly ParsedCertificate[]): RuleResult {
  for (const ca of path.slice(1)) {
    if (!ca.basicConstraints?.ca) {
      return {
        reason: "ca_verification_failed",
        message: `The certificate "${ca.subject}" on the chain is not a CA certificate (basicConstraints cA is not set).`,
      };
    }
    if (ca.keyUsage !== null && (ca.keyUsage & x509.KeyUsageFlags.keyCertSign) === 0) {
      return {
        reason: "ca_verification_failed",
        message: `The CA certificate "${ca.subject}" on the chain may not sign certificates (keyUsage lacks keyCertSign).`,
      };
    }
  }
  return null;
}
