import type { ParsedCertificate } from "../lib/certificate.ts";
import type { RuleResult } from "../types.ts";

/** notBefore ≤ now ≤ notAfter, both ends inclusive (RFC 5280 §4.1.2.5). */
export function checkLeafValidity(leaf: ParsedCertificate, now: Date): RuleResult {
  const t = now.getTime();
  if (t < leaf.notBefore.getTime()) {
    return { reason: "certificate_not_yet_valid", message: `The certificate is not valid before ${leaf.notBefore.toISOString()}.` };
  }
  if (t > leaf.notAfter.getTime()) {
    return { reason: "certificate_expired", message: `The certificate expired at ${leaf.notAfter.toISOString()}.` };
  }
  return null;
}

/** Every CA on the path, the trust anchor included, must be within its validity window. */
export function checkIssuerValidity(path: readonly ParsedCertificate[], now: Date): RuleResult {
  const t = now.getTime();
  for (const ca of path.slice(1)) {
    if (t < ca.notBefore.getTime()) {
      return {
        reason: "issuer_certificate_not_yet_valid",
        message: `The CA certificate "${ca.subject}" is not valid before ${ca.notBefore.toISOString()}.`,
      };
    }
    if (t > ca.notAfter.getTime()) {
      return {
        reason: "issuer_certificate_expired",
        message: `The CA certificate "${ca.subject}" expired at ${ca.notAfter.toISOString()}.`,
      };
    }
  }
  return null;
}
