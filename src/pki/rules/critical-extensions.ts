import type { ParsedCertificate } from "../lib/certificate.ts";
import type { RuleResult } from "../types.ts";

/**
 * RFC 5280 §4.2: a certificate with a critical extension the validator does not process must be refused,
 * whether it is the leaf or a CA on the path (certificate policies, for example, are not enforced here).
 */
export function checkCriticalExtensions(certificates: readonly ParsedCertificate[]): RuleResult {
  for (const cert of certificates) {
    const oid = cert.unprocessedCriticalExtensions[0];
    if (oid) {
      return {
        reason: "ca_verification_failed",
        message: `The certificate "${cert.subject}" has a critical extension (${oid}) that certauth does not process.`,
      };
    }
  }
  return null;
}
