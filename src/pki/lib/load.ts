import { Buffer } from "node:buffer";
import { MAX_CERTIFICATE_BYTES } from "../limits.ts";
import { ByteBudgetCache } from "./byte-budget-cache.ts";
import { parseCertificate, type ParsedCertificate } from "./certificate.ts";
import { sha256Hex } from "./digest.ts";

export interface LoadedCertificate {
  /** SHA-256 of the DER, lowercase hex. */
  fingerprint: string;
  /** Null when the DER does not decode, or is larger than MAX_CERTIFICATE_BYTES. */
  certificate: ParsedCertificate | null;
}

interface Entry extends LoadedCertificate {
  /** A private copy of the DER the answer was computed from, compared on every hit. */
  bytes: Uint8Array;
}

/** What a parsed certificate holds on to: about 8 KiB of objects plus several decoded copies of its DER. */
export const chargeFor = (der: Uint8Array) => 8 * 1024 + 6 * der.byteLength;

/**
 * Certificates of returning clients, parsed once. Keyed by length and the signature's last bytes, so that
 * no hash is awaited (crypto.subtle.digest's thread-pool hop cost more than the rest of the certificate
 * work); the full DER is compared on every hit, so a colliding key only costs a miss.
 */
export const parsedCertificates = new ByteBudgetCache<string, Entry>(32 * 1024 * 1024);
const TAIL_BYTES = 32;
const latin1 = new TextDecoder("latin1");
const keyOf = (der: Uint8Array) => `${der.byteLength}:${latin1.decode(der.subarray(der.byteLength - TAIL_BYTES))}`;

/**
 * The last answer for a DER object: a connection hands the same chain objects to every request on it, so one
 * byte comparison (native) replaces the lookup. The copy is compared, so a buffer changed in place is not trusted.
 */
const byObject = new WeakMap<Uint8Array, Entry>();

/** Fingerprints the DER, then decodes it (or takes it from the cache). */
export async function loadCertificate(der: Uint8Array): Promise<LoadedCertificate> {
  const seen = byObject.get(der);
  if (seen && Buffer.compare(seen.bytes, der) === 0) return { fingerprint: seen.fingerprint, certificate: seen.certificate };
  const loaded = await load(der);
  byObject.set(der, loaded);
  return { fingerprint: loaded.fingerprint, certificate: loaded.certificate };
}

async function load(der: Uint8Array): Promise<Entry> {
  const key = keyOf(der);
  const known = parsedCertificates.get(key);
  if (known && Buffer.compare(known.bytes, der) === 0) return known;
  // Own copy: the caller's buffer may be a view into a pooled socket buffer.
  const bytes = new Uint8Array(der);
  const fingerprint = await sha256Hex(bytes);
  if (bytes.byteLength > MAX_CERTIFICATE_BYTES) return { bytes, fingerprint, certificate: null };
  try {
    const entry = { bytes, fingerprint, certificate: parseCertificate(bytes, fingerprint) };
    parsedCertificates.set(key, entry, chargeFor(bytes));
    return entry;
  } catch {
    return { bytes, fingerprint, certificate: null };
  }
}
