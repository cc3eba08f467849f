import type { ParsedCertificate } from "../lib/certificate.ts";
import type { RuleResult } from "../types.ts";

/** A client may not log in with a CA certificate, and never with a configured CA itself. */
export function checkLeafIsNotCa(leaf: ParsedCertificate, anchorFingerprints: ReadonlySet<string>): RuleResult {
  if (anchorFingerprints.has(leaf.fingerprint)) {
    return { reason: "ca_certificate_not_allowed", message: "The presented certificate is one of the configured CA certificates." };
  }
  if (leaf.basicConstraints?.ca) {
    return { reason: "ca_certificate_not_allowed", message: "The presented certificate is a CA certificate (basicConstraints cA=true)." };
  }
  return null;
}
