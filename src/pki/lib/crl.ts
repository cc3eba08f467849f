import * as x509 from "../x509.ts";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  CertificateList,
  IssuingDistributionPoint,
  TBSCertList,
  id_ce_deltaCRLIndicator,
  id_ce_issuingDistributionPoint,
  type Extension,
} from "@peculiar/asn1-x509";
import { TrustConfigBusy, TrustConfigError } from "../errors.ts";
import type { ParsedCertificate } from "./certificate.ts";
import { ByteBudgetCache } from "./byte-budget-cache.ts";
import { weakSignatureAlgorithm } from "./crypto-policy.ts";
import { nameKey, normalizeSerial, toHex } from "./names.ts";

/** A configured CRL: its decoding is shared by every configuration version that holds the same bytes. */
export interface CompiledCrl {
  /** How messages name it: "CRL #2" (its position in the configured PEM) or "CRL <url>". */
  name: string;
  issuer: string;
  issuerKey: string;
  thisUpdate: Date;
  nextUpdate: Date | null;
  /** Normalised hex serials (see normalizeSerial), looked up by binary search at login. */
  revoked: RevokedSerials;
  /** What a signature check reads (tbsCertList's bytes, the algorithms, the signature); no entries. */
  crl: StructuredCrl;
  /** Fingerprints of configured CAs whose key verifies this CRL (checked at compile time). */
  signedByAnchors: ReadonlySet<string>;
  /** The CRL's signature algorithm when the crypto policy refuses it (MD5, SHA-1), else null. */
  weakSignature: string | null;
  /** Login-time signature checks against intermediates, by the intermediate's fingerprint. */
  intermediateChecks: ByteBudgetCache<string, Promise<boolean>>;
  scope: CrlScope;
}

/**
 * What decoding a CRL's DER yields, as plain data and byte arrays (no object graph): it crosses a thread
 * boundary by structured clone, its buffers transferred, and is shared by every CRL compiled from the same bytes.
 */
export interface DecodedCrl {
  issuer: string;
  issuerKey: string;
  /** Epoch ms. */
  thisUpdate: number;
  nextUpdate: number | null;
  scope: CrlScope;
  weakSignature: string | null;
  /** The revoked serials (normalised hex, ASCII), sorted, back to back; `serialEnds[i]` is where the i-th ends. */
  serials: Uint8Array<ArrayBuffer>;
  serialEnds: Uint32Array<ArrayBuffer>;
  /** The bytes the signature covers. */
  tbs: Uint8Array<ArrayBuffer>;
  /** DER of the outer and the inner signature AlgorithmIdentifier. */
  signatureAlgorithm: Uint8Array<ArrayBuffer>;
  tbsSignatureAlgorithm: Uint8Array<ArrayBuffer>;
  signature: Uint8Array<ArrayBuffer>;
}

/** Decodes CRL bytes (on this thread or another); rejects with CrlDecodeRefused when it will not decode them now. */
export type CrlDecoder = (der: Uint8Array<ArrayBuffer>) => Promise<DecodedCrl>;

/** The decoder declined (busy, or over its time cap): the message says why, after the CRL's name. */
export class CrlDecodeRefused extends Error {
  /** `busy`: the decoder could not take it now (its queue is full, or it is stopping); the same bytes may decode later. */
  constructor(
    message: string,
    readonly busy = false,
  ) {
    super(message);
  }
}

/** The buffers of `decoded`, to transfer rather than copy across threads. */
export function transferablesOf(decoded: DecodedCrl): ArrayBuffer[] {
  return [decoded.serials.buffer, decoded.serialEnds.buffer, decoded.tbs.buffer, decoded.signatureAlgorithm.buffer, decoded.tbsSignatureAlgorithm.buffer, decoded.signature.buffer];
}

/** The revoked serials of a decoded CRL: about the serials' own bytes plus 4 a serial, instead of a Set of strings. */
export class RevokedSerials {
  constructor(
    private readonly serials: Uint8Array,
    private readonly ends: Uint32Array,
  ) {}

  /** Sorted, without duplicates, packed. */
  static of(hexSerials: string[]): { serials: Uint8Array<ArrayBuffer>; serialEnds: Uint32Array<ArrayBuffer> } {
    const sorted = [...new Set(hexSerials)].sort();
    const serialEnds = new Uint32Array(sorted.length);
    let length = 0;
    for (let i = 0; i < sorted.length; i++) serialEnds[i] = length += sorted[i]!.length;
    const serials = new Uint8Array(length);
    let at = 0;
    for (const serial of sorted) for (let i = 0; i < serial.length; i++) serials[at++] = serial.charCodeAt(i);
    return { serials, serialEnds };
  }

  has(serial: string): boolean {
    let low = 0;
    let high = this.ends.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const order = this.#compare(serial, mid);
      if (order === 0) return true;
      if (order < 0) high = mid - 1;
      else low = mid + 1;
    }
    return false;
  }

  /** `serial` against the i-th entry, in the order of String.prototype.sort (UTF-16 units, ASCII here). */
  #compare(serial: string, i: number): number {
    const start = i === 0 ? 0 : this.ends[i - 1]!;
    const length = this.ends[i]! - start;
    const common = Math.min(length, serial.length);
    for (let k = 0; k < common; k++) {
      const d = serial.charCodeAt(k) - this.serials[start + k]!;
      if (d !== 0) return d;
    }
    return serial.length - length;
  }

  get size(): number {
    return this.ends.length;
  }

  get byteLength(): number {
    return this.serials.byteLength + this.ends.byteLength;
  }
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

export class StructuredCrl extends x509.X509Crl {
  get structure(): CertificateList {
    return this.asn;
  }
}

/** A copy of `bytes` in a buffer of its own, so that transferring it moves nothing else. */
const own = (bytes: ArrayBuffer | ArrayBufferView): Uint8Array<ArrayBuffer> =>
  (ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes)).slice();

/** The view's buffer when the view spans all of it (decoded parts are shared by every CRL compiled from them), else a copy. */
const bufferOf = (bytes: Uint8Array<ArrayBuffer>): ArrayBuffer =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : own(bytes).buffer;

/**
 * Decodes CRL bytes into plain data; throws on anything that is not an X.509 CRL. This is the costly part of a
 * CRL (tens of microseconds an entry): a large one is decoded off the event loop (see CrlDecoder).
 */
export function decodeCrl(der: Uint8Array<ArrayBuffer>): DecodedCrl {
  // A CRL entry is about five ASN.1 nodes in at least twelve bytes, so this bounds nodes by size.
  const crl = new StructuredCrl(der, { berOptions: { maxNodes: Math.max(10_000, der.length), maxContentLength: der.length + 16 } });
  const list = crl.structure;
  const tbs = list.tbsCertList;
  if (!list.tbsCertListRaw) throw new Error("the decoder kept no tbsCertList bytes");
  const serials: string[] = [];
  for (const entry of tbs.revokedCertificates ?? []) serials.push(normalizeSerial(toHex(new Uint8Array(entry.userCertificate))));
  return {
    issuer: crl.issuer,
    issuerKey: nameKey(tbs.issuer),
    thisUpdate: crl.thisUpdate.getTime(),
    nextUpdate: crl.nextUpdate?.getTime() ?? null,
    scope: scopeOf(tbs.crlExtensions ?? []),
    weakSignature: weakSignatureAlgorithm(list.signatureAlgorithm.algorithm, () => crl.signatureAlgorithm),
    ...RevokedSerials.of(serials),
    tbs: own(list.tbsCertListRaw),
    signatureAlgorithm: own(AsnConvert.serialize(list.signatureAlgorithm)),
    tbsSignatureAlgorithm: own(AsnConvert.serialize(tbs.signature)),
    signature: own(list.signature),
  };
}

/** Decodes on the calling thread: for small CRLs, and wherever no other decoder is given. */
export const decodeHere: CrlDecoder = async (der) => decodeCrl(der);

/** A CRL object that a signature check can use, built from the decoded parts without decoding the entries again. */
function signedPart(decoded: DecodedCrl): StructuredCrl {
  const list = new CertificateList({
    tbsCertList: new TBSCertList({ signature: AsnConvert.parse(decoded.tbsSignatureAlgorithm, AlgorithmIdentifier) }),
    signatureAlgorithm: AsnConvert.parse(decoded.signatureAlgorithm, AlgorithmIdentifier),
    signature: bufferOf(decoded.signature),
  });
  list.tbsCertListRaw = bufferOf(decoded.tbs);
  return new StructuredCrl(list);
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
 * Decodes one CRL (through `decode`) and verifies it against the configured CAs that carry its issuer name;
 * a CRL naming a configured CA that none of them signed is a configuration error.
 */
export async function compileCrl(
  der: Uint8Array<ArrayBuffer>,
  name: string,
  anchorsBySubject: ReadonlyMap<string, ParsedCertificate[]>,
  decode: CrlDecoder = decodeHere,
): Promise<CompiledCrl> {
  let decoded: DecodedCrl;
  let crl: StructuredCrl;
  try {
    decoded = await decode(der);
    crl = signedPart(decoded);
  } catch (err) {
    if (err instanceof CrlDecodeRefused) throw new (err.busy ? TrustConfigBusy : TrustConfigError)(`${name} ${err.message}.`);
    throw new TrustConfigError(`${name} could not be decoded as an X.509 CRL.`);
  }
  const signedByAnchors = new Set<string>();
  const namesakes = anchorsBySubject.get(decoded.issuerKey) ?? [];
  for (const ca of namesakes) {
    if (await isCrlSignedBy(crl, ca)) signedByAnchors.add(ca.fingerprint);
  }
  if (namesakes.length && !signedByAnchors.size) {
    throw new TrustConfigError(
      `${name} names the configured CA "${decoded.issuer}" as its issuer, but its signature does not verify with that CA's key.`,
    );
  }
  return {
    name,
    issuer: decoded.issuer,
    issuerKey: decoded.issuerKey,
    thisUpdate: new Date(decoded.thisUpdate),
    nextUpdate: decoded.nextUpdate === null ? null : new Date(decoded.nextUpdate),
    revoked: new RevokedSerials(decoded.serials, decoded.serialEnds),
    crl,
    signedByAnchors,
    weakSignature: decoded.weakSignature,
    intermediateChecks: new ByteBudgetCache(64 * 1024),
    scope: decoded.scope,
  };
}

/** What a decoded CRL holds on to: its tbsCertList bytes and its packed serials. */
export function decodedCharge(decoded: DecodedCrl): number {
  return decoded.tbs.byteLength + decoded.serials.byteLength + decoded.serialEnds.byteLength + 1024;
}

/** A compiled CRL keeps its tbsCertList bytes and its packed serials (shared with the decoding it came from). */
export function crlCharge(crl: CompiledCrl): number {
  return (crl.crl.structure.tbsCertListRaw?.byteLength ?? 0) + crl.revoked.byteLength + 1024;
}
