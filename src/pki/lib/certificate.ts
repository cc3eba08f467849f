import { AsnConvert } from "@peculiar/asn1-schema";
import {
  Certificate,
  GeneralName,
  NameConstraints,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  id_ce_nameConstraints,
  id_ce_subjectAltName,
} from "@peculiar/asn1-x509";
import type { Name } from "@peculiar/asn1-x509";
import * as x509 from "../x509.ts";
import { weakKey, weakSignatureAlgorithm } from "./crypto-policy.ts";
import { nameKey, normalizeSerial, rdnKeys, toHex } from "./names.ts";

/** Limits for untrusted certificate DER handed to asn1js: a certificate is small and shallow. */
export const CERT_PARSE_OPTIONS: x509.ParseOptions = {
  berOptions: { maxDepth: 40, maxNodes: 20_000, maxContentLength: 1 << 20 },
};

const OID_CN = "2.5.4.3";
const OID_O = "2.5.4.10";
const OID_OU = "2.5.4.11";
const OID_EMAIL = "1.2.840.113549.1.9.1";

export interface SubjectAltNames {
  dns: string[];
  email: string[];
  /** As decoded by asn1-x509: "1.2.3.4", "2001:db8::1", or hex for malformed lengths. */
  ip: string[];
  uri: string[];
  /** otherName, x400, directoryName, ediParty, registeredID: counted, never matched. */
  other: GeneralName[];
}

/** Gives access to the parsed ASN.1 structure that X509Certificate keeps protected. */
class StructuredCertificate extends x509.X509Certificate {
  get structure(): Certificate {
    return this.asn;
  }
}

/** Everything the rules read from one certificate, decoded once. */
export interface ParsedCertificate {
  der: Uint8Array<ArrayBuffer>;
  /** SHA-256 of the DER, lowercase hex. */
  fingerprint: string;
  x509: x509.X509Certificate;
  subject: string;
  subjectName: Name;
  subjectKey: string;
  /** The subject public key (algorithm and bits) as text: equal for two certificates of one key. */
  publicKeyId: string;
  subjectRdns: string[];
  issuerKey: string;
  selfIssued: boolean;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  basicConstraints: { ca: boolean; pathLength: number | undefined } | null;
  /** KeyUsageFlags bitmask, or null without the extension. */
  keyUsage: number | null;
  /** EKU OIDs, or null without the extension. */
  eku: string[] | null;
  sans: SubjectAltNames;
  commonNames: string[];
  organizations: string[];
  organizationalUnits: string[];
  emailAddresses: string[];
  nameConstraints: NameConstraints | null;
  /** OIDs of critical extensions the engine does not process (RFC 5280 §4.2: such a certificate is refused). */
  unprocessedCriticalExtensions: string[];
  /** The certificate's signature algorithm when the crypto policy refuses it (MD5, SHA-1), else null. */
  weakSignature: string | null;
  /** Its subject key when the crypto policy refuses it (RSA under 2048 bits, other EC curves), else null. */
  weakKey: string | null;
}

/** Extensions the engine processes, or that carry no constraint to enforce. */
const PROCESSED_EXTENSIONS = new Set([
  "2.5.29.19", // basicConstraints
  "2.5.29.15", // keyUsage
  "2.5.29.37", // extKeyUsage
  "2.5.29.17", // subjectAltName
  "2.5.29.30", // nameConstraints
  "2.5.29.14", // subjectKeyIdentifier
  "2.5.29.35", // authorityKeyIdentifier
]);

/** What the rules read beyond path building: decoded from the extensions on first use, then kept. */
type Details = Pick<
  ParsedCertificate,
  | "subjectRdns" | "serial" | "basicConstraints" | "keyUsage" | "eku" | "sans" | "commonNames" | "organizations"
  | "organizationalUnits" | "emailAddresses" | "nameConstraints" | "unprocessedCriticalExtensions" | "weakSignature" | "weakKey"
>;

/**
 * Decodes a DER certificate as far as path building needs (names, key, validity); throws on anything
 * malformed there. The rest is decoded on first use: extensions cost twice the rest of the parse, and a
 * presented certificate that never lies on a candidate path never needs them (see `fullyDecoded`).
 */
export function parseCertificate(der: Uint8Array<ArrayBuffer>, fingerprint: string): ParsedCertificate {
  const cert = new StructuredCertificate(der, CERT_PARSE_OPTIONS);
  const tbs = cert.structure.tbsCertificate;
  const subjectKey = nameKey(tbs.subject);
  const issuerKey = nameKey(tbs.issuer);
  let details: Details | undefined;
  const detail = () => (details ??= readDetails(cert));
  return {
    der,
    fingerprint,
    x509: cert,
    subject: cert.subject,
    subjectName: tbs.subject,
    subjectKey,
    publicKeyId: publicKeyIdOf(tbs.subjectPublicKeyInfo),
    issuerKey,
    selfIssued: subjectKey === issuerKey,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    get subjectRdns() { return detail().subjectRdns; },
    get serial() { return detail().serial; },
    get basicConstraints() { return detail().basicConstraints; },
    get keyUsage() { return detail().keyUsage; },
    get eku() { return detail().eku; },
    get sans() { return detail().sans; },
    get commonNames() { return detail().commonNames; },
    get organizations() { return detail().organizations; },
    get organizationalUnits() { return detail().organizationalUnits; },
    get emailAddresses() { return detail().emailAddresses; },
    get nameConstraints() { return detail().nameConstraints; },
    get unprocessedCriticalExtensions() { return detail().unprocessedCriticalExtensions; },
    get weakSignature() { return detail().weakSignature; },
    get weakKey() { return detail().weakKey; },
  };
}

/** Whether the parts decoded on first use decode too; a certificate for which they do not is undecodable. */
export function fullyDecoded(cert: ParsedCertificate): boolean {
  try {
    return cert.unprocessedCriticalExtensions !== undefined;
  } catch {
    return false;
  }
}

function publicKeyIdOf(spki: SubjectPublicKeyInfo): string {
  const { algorithm, parameters } = spki.algorithm;
  return `${algorithm}:${parameters ? toHex(new Uint8Array(parameters)) : ""}:${toHex(new Uint8Array(spki.subjectPublicKey))}`;
}

function readDetails(cert: StructuredCertificate): Details {
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const sanExt = cert.getExtension(id_ce_subjectAltName);
  const ncExt = cert.getExtension(id_ce_nameConstraints);
  const subjectField = (oid: string) => cert.subjectName.getField(oid);
  return {
    subjectRdns: rdnKeys(cert.structure.tbsCertificate.subject),
    serial: normalizeSerial(cert.serialNumber),
    basicConstraints: basic ? { ca: basic.ca, pathLength: basic.pathLength } : null,
    keyUsage: keyUsage ? keyUsage.usages : null,
    eku: eku ? eku.usages.map(String) : null,
    sans: sanExt ? splitNames(AsnConvert.parse(sanExt.value, SubjectAlternativeName, CERT_PARSE_OPTIONS)) : splitNames([]),
    commonNames: subjectField(OID_CN),
    organizations: subjectField(OID_O),
    organizationalUnits: subjectField(OID_OU),
    emailAddresses: subjectField(OID_EMAIL),
    nameConstraints: ncExt ? AsnConvert.parse(ncExt.value, NameConstraints, CERT_PARSE_OPTIONS) : null,
    unprocessedCriticalExtensions: cert.extensions.filter((e) => e.critical && !PROCESSED_EXTENSIONS.has(e.type)).map((e) => e.type),
    weakSignature: weakSignatureAlgorithm(cert.structure.signatureAlgorithm.algorithm, () => cert.signatureAlgorithm),
    weakKey: weakKey(cert.publicKey, cert.structure.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey),
  };
}

function splitNames(names: Iterable<GeneralName>): SubjectAltNames {
  const out: SubjectAltNames = { dns: [], email: [], ip: [], uri: [], other: [] };
  for (const n of names) {
    if (n.dNSName !== undefined) out.dns.push(n.dNSName);
    else if (n.rfc822Name !== undefined) out.email.push(n.rfc822Name);
    else if (n.iPAddress !== undefined) out.ip.push(n.iPAddress);
    else if (n.uniformResourceIdentifier !== undefined) out.uri.push(n.uniformResourceIdentifier);
    else out.other.push(n);
  }
  return out;
}

/** Each issuer's key imported once per signature algorithm (the hash is bound at import for RSA). */
const verifyKeys = new WeakMap<ParsedCertificate, Map<string, Promise<CryptoKey>>>();

function verifyKey(issuer: ParsedCertificate, algorithm: Algorithm): Promise<CryptoKey> {
  let byAlgorithm = verifyKeys.get(issuer);
  if (!byAlgorithm) verifyKeys.set(issuer, (byAlgorithm = new Map()));
  const id = JSON.stringify(algorithm);
  let key = byAlgorithm.get(id);
  if (!key) {
    key = issuer.x509.publicKey.export(algorithm, ["verify"]);
    byAlgorithm.set(id, key);
  }
  return key;
}

/** Whether `issuer`'s key verifies `child`'s signature; any decoding or crypto error counts as no. */
export async function isSignedBy(child: ParsedCertificate, issuer: ParsedCertificate): Promise<boolean> {
  try {
    const key = await verifyKey(issuer, { ...issuer.x509.publicKey.algorithm, ...child.x509.signatureAlgorithm });
    return await child.x509.verify({ publicKey: key, signatureOnly: true });
  } catch {
    return false;
  }
}
