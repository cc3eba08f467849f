import type { ParsedCertificate } from "../lib/certificate.ts";
import type { CompiledCrl } from "../lib/crl.ts";
import type { RuleResult } from "../types.ts";

/**
 * No MD5 or SHA-1 signature on a certificate below the trust anchor: a collision there forges a certificate
 * the CA never issued. The anchor's own signature vouches for nothing, so it is not judged.
 */
export function checkSignatureAlgorithms(path: readonly ParsedCertificate[]): RuleResult {
  const weak = path.slice(0, -1).find((cert) => cert.weakSignature !== null);
  if (!weak) return null;
  return {
    reason: "weak_signature_algorithm",
    message: `The certificate "${weak.subject}" is signed with ${weak.weakSignature}, which certauth does not accept.`,
  };
}

/** A CRL used for a certificate on the path may not be signed with MD5 or SHA-1 either (a forged CRL hides a revocation). */
export function checkCrlSignatureAlgorithm(crl: CompiledCrl): RuleResult {
  if (crl.weakSignature === null) return null;
  return {
    reason: "weak_signature_algorithm",
    message: `${crl.name} from "${crl.issuer}" is signed with ${crl.weakSignature}, which certauth does not accept.`,
  };
}
