import * as x509 from "../x509.ts";
import type { CertificateList } from "@peculiar/asn1-x509";
import { TrustConfigError } from "../errors.ts";
import type { ParsedCertificate } from "./certificate.ts";
import { ByteBudgetCache } from "./byte-budget-cache.ts";
import { weakSignatureAlgorithm } from "./crypto-policy.ts";
import { nameKey, normalizeSerial, toHex } from "./names.ts";

/** A configured CRL, decoded once per configuration version. */
export interface CompiledCrl {
  /** How messages name it: "CRL #2" (its position in the configured PEM) or "CRL <url>". */
  name: string;
  issuer: string;
  issuerKey: string;
  thisUpdate: Date;
  nextUpdate: Date | null;
  /** Normalised hex serials (see normalizeSerial): O(1) lookup at login. */
  revoked: ReadonlySet<string>;
  crl: x509.X509Crl;
  /** Fingerprints of configured CAs whose key verifies this CRL (checked at compile time). */
  signedByAnchors: ReadonlySet<string>;
  /** The CRL's signature algorithm when the crypto policy refuses it (MD5, SHA-1), else null. */
  weakSignature: string | null;
  /** Login-time signature checks against intermediates, by the intermediate's fingerprint. */
  intermediateChecks: ByteBudgetCache<string, Promise<boolean>>;
}

class StructuredCrl extends x509.X509Crl {
  get structure(): CertificateList {
    return this.asn;
  }
}

/** Whether `issuer`'s key verifies the CRL; any decoding or crypto error counts as no. */
export async function isCrlSignedBy(crl: x509.X509Crl, issuer: ParsedCertificate): Promise<boolean> {
  try {
    return await crl.verify({ publicKey: issuer.x509.publicKey });
  } catch {
    return false;
  }
}

/**
 * Decodes one CRL and verifies it against the configured CAs that carry its issuer name;
 * a CRL naming a configured CA that none of them signed is a configuration error.
 */
export async function compileCrl(
  der: Uint8Array<ArrayBuffer>,
  name: string,
  anchorsBySubject: ReadonlyMap<string, ParsedCertificate[]>,
): Promise<CompiledCrl> {
  let crl: StructuredCrl;
  let issuerKey: string;
  let thisUpdate: Date;
  let nextUpdate: Date | null;
  const revoked = new Set<string>();
  try {
    // A CRL entry is about five ASN.1 nodes in at least twelve bytes, so this bounds nodes by size.
    crl = new StructuredCrl(der, { berOptions: { maxNodes: Math.max(10_000, der.length), maxContentLength: der.length + 16 } });
    const tbs = crl.structure.tbsCertList;
    issuerKey = nameKey(tbs.issuer);
    for (const entry of tbs.revokedCertificates ?? []) revoked.add(normalizeSerial(toHex(new Uint8Array(entry.userCertificate))));
    thisUpdate = crl.thisUpdate;
    nextUpdate = crl.nextUpdate ?? null;
  } catch {
    throw new TrustConfigError(`${name} could not be decoded as an X.509 CRL.`);
  }
  const signedByAnchors = new Set<string>();
  const namesakes = anchorsBySubject.get(issuerKey) ?? [];
  for (const ca of namesakes) {
    if (await isCrlSignedBy(crl, ca)) signedByAnchors.add(ca.fingerprint);
  }
  if (namesakes.length && !signedByAnchors.size) {
    throw new TrustConfigError(
      `${name} names the configured CA "${crl.issuer}" as its issuer, but its signature does not verify with that CA's key.`,
    );
  }
  // The decoded entries (several objects per serial, which every full collection walks) are not needed any more:
  // the serials are in `revoked`, and a later check of the signature against an intermediate verifies the
  // original bytes of tbsCertList, which the decoder keeps as one buffer.
  const structure = crl.structure;
  if (structure.tbsCertListRaw) structure.tbsCertList.revokedCertificates = undefined;
  return {
    name,
    issuer: crl.issuer,
    issuerKey,
    thisUpdate,
    nextUpdate,
    revoked,
    crl,
    signedByAnchors,
    weakSignature: weakSignatureAlgorithm(structure.signatureAlgorithm.algorithm, () => crl.signatureAlgorithm),
    intermediateChecks: new ByteBudgetCache(64 * 1024),
  };
}

/** A compiled CRL keeps its tbsCertList bytes and a set of hex serials (about 128 bytes each). */
export function crlCharge(crl: CompiledCrl): number {
  return crl.crl.rawData.byteLength + 128 * crl.revoked.size;
}
