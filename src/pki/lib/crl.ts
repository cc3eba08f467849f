import * as x509 from "../x509.ts";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  IssuingDistributionPoint,
  id_ce_deltaCRLIndicator,
  id_ce_issuingDistributionPoint,
  type CertificateList,
  type Extension,
} from "@peculiar/asn1-x509";
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
  scope: CrlScope;
}

/** Which certificates a CRL lists completely (RFC 5280 §5.2.4, §5.2.5). */
export interface CrlScope {
  /** Why it is the complete list for no certificate (a delta CRL, some reasons only, …); null when it can be. */
  partial: string | null;
  /** The URIs of its issuing distribution point: it covers only certificates fetched from one of them; null: any. */
  points: readonly string[] | null;
  /** onlyContainsUserCerts / onlyContainsCACerts. */
  only: "user" | "ca" | null;
}

/** CRL extensions whose meaning does not narrow what the CRL lists. */
const NEUTRAL_CRL_EXTENSIONS = new Set(["2.5.29.20", "2.5.29.35", "2.5.29.18", "2.5.29.46", "1.3.6.1.5.5.7.1.1"]);

function scopeOf(extensions: readonly Extension[]): CrlScope {
  const scope: CrlScope = { partial: null, points: null, only: null };
  for (const ext of extensions) {
    if (ext.extnID === id_ce_deltaCRLIndicator) scope.partial = "it is a delta CRL";
    else if (ext.extnID === id_ce_issuingDistributionPoint) {
      let idp: IssuingDistributionPoint;
      try {
        idp = AsnConvert.parse(ext.extnValue, IssuingDistributionPoint);
      } catch {
        scope.partial = "its issuing distribution point cannot be decoded";
        continue;
      }
      if (idp.onlySomeReasons) scope.partial = "it lists some revocation reasons only";
      else if (idp.indirectCRL) scope.partial = "it is an indirect CRL";
      else if (idp.onlyContainsAttributeCerts) scope.partial = "it lists attribute certificates only";
      if (idp.onlyContainsUserCerts) scope.only = "user";
      if (idp.onlyContainsCACerts) scope.only = "ca";
      if (idp.distributionPoint) {
        scope.points = (idp.distributionPoint.fullName ?? []).flatMap((name) => (name.uniformResourceIdentifier ? [name.uniformResourceIdentifier] : []));
      }
    } else if (ext.critical && !NEUTRAL_CRL_EXTENSIONS.has(ext.extnID)) scope.partial = `it carries the unknown critical extension ${ext.extnID}`;
  }
  return scope;
}

/** Why `crl`, fetched from `url`, is not the complete list for `cert`; null when it is. */
export function crlScopeMismatch(crl: CompiledCrl, cert: ParsedCertificate, url: string): string | null {
  const { partial, points, only } = crl.scope;
  if (partial) return partial;
  if (points && !points.includes(url)) return `its issuing distribution point does not name ${url}`;
  const isCa = cert.basicConstraints?.ca === true;
  if (only === "ca" && !isCa) return "it lists CA certificates only";
  if (only === "user" && isCa) return "it lists end-entity certificates only";
  return null;
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
  let scope: CrlScope;
  const revoked = new Set<string>();
  try {
    // A CRL entry is about five ASN.1 nodes in at least twelve bytes, so this bounds nodes by size.
    crl = new StructuredCrl(der, { berOptions: { maxNodes: Math.max(10_000, der.length), maxContentLength: der.length + 16 } });
    const tbs = crl.structure.tbsCertList;
    issuerKey = nameKey(tbs.issuer);
    for (const entry of tbs.revokedCertificates ?? []) revoked.add(normalizeSerial(toHex(new Uint8Array(entry.userCertificate))));
    thisUpdate = crl.thisUpdate;
    nextUpdate = crl.nextUpdate ?? null;
    scope = scopeOf(tbs.crlExtensions ?? []);
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
    scope,
  };
}

/** A compiled CRL keeps its tbsCertList bytes and a set of hex serials (about 128 bytes each). */
export function crlCharge(crl: CompiledCrl): number {
  return crl.crl.rawData.byteLength + 128 * crl.revoked.size;
}
