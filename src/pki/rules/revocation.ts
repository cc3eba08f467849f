import type { ParsedCertificate } from "../lib/certificate.ts";
import { isCrlSignedBy, type CompiledCrl } from "../lib/crl.ts";
import type { RuleResult } from "../types.ts";
import { checkCrlSignatureAlgorithm } from "./weak-signature-algorithm.ts";

/**
 * Configured CRLs, for every certificate on the path (leaf first). A CRL applies to a certificate when
 * it carries the certificate's issuer name and is signed by the certificate's issuer on this path: a
 * configured CA (verified at compile time) or an intermediate (verified here, once per intermediate).
 * A CRL naming an intermediate on the path that the intermediate did not sign leaves the revocation
 * status unknown: fail closed with certificate_revoked. A trust anchor is checked against CRLs that
 * another configured CA signed. An applicable CRL signed with MD5 or SHA-1 refuses with weak_signature_algorithm,
 * one past its nextUpdate with crl_expired.
 */
export async function checkRevocation(
  path: readonly ParsedCertificate[],
  crlsByIssuer: ReadonlyMap<string, CompiledCrl[]>,
  now: Date,
): Promise<RuleResult> {
  const anchorIndex = path.length - 1;
  for (let i = 0; i < path.length; i++) {
    const cert = path[i]!;
    for (const crl of crlsByIssuer.get(cert.issuerKey) ?? []) {
      const applies = await crlApplies(crl, cert, i === anchorIndex ? null : path[i + 1]!, i + 1 === anchorIndex);
      if (applies === "forged") {
        return {
          reason: "certificate_revoked",
          message: `${crl.name} names "${crl.issuer}" as its issuer but does not verify with that CA's key, so revocation cannot be checked.`,
        };
      }
      if (!applies) continue;
      const weak = checkCrlSignatureAlgorithm(crl);
      if (weak) return weak;
      if (crl.nextUpdate !== null && now.getTime() > crl.nextUpdate.getTime()) {
        return {
          reason: "crl_expired",
          message: `${crl.name} from "${crl.issuer}" expired at ${crl.nextUpdate.toISOString()}; a fresh CRL must be configured.`,
        };
      }
      if (crl.revoked.has(cert.serial)) {
        return {
          reason: "certificate_revoked",
          message: `The certificate "${cert.subject}" (serial ${cert.serial}) is listed in ${crl.name}.`,
        };
      }
    }
  }
  return null;
}

/** A remembered signature check: a fingerprint key and a settled promise. */
const INTERMEDIATE_CHECK_BYTES = 256;

/** Whether `crl` covers `cert`: signed by its issuer on this path (`issuer`, null for the anchor itself); "forged" when that intermediate did not sign it. */
export async function crlApplies(
  crl: CompiledCrl,
  cert: ParsedCertificate,
  issuer: ParsedCertificate | null,
  issuerIsAnchor: boolean,
): Promise<boolean | "forged"> {
  if (issuer === null) return [...crl.signedByAnchors].some((fp) => fp !== cert.fingerprint);
  if (issuerIsAnchor) return crl.signedByAnchors.has(issuer.fingerprint);
  let check = crl.intermediateChecks.get(issuer.fingerprint);
  if (!check) {
    check = isCrlSignedBy(crl.crl, issuer);
    crl.intermediateChecks.set(issuer.fingerprint, check, INTERMEDIATE_CHECK_BYTES);
  }
  return (await check) ? true : "forged";
}
