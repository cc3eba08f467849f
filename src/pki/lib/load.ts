import { Buffer } from "node:buffer";
import { parseCertificate, type ParsedCertificate } from "./certificate.ts";
import { sha256Hex } from "./digest.ts";
import { Lru } from "./lru.ts";

/** Parsed certificates by SHA-256 of their DER: a returning client's leaf and intermediates are decoded once. */
const parsed = new Lru<string, ParsedCertificate>(2048);

/**
 * SHA-256 by the DER's bytes (decoded as latin1, one character per byte, so equal keys mean equal bytes):
 * a returning client's certificate is hashed once. crypto.subtle.digest goes through the runtime's
 * thread pool and back; on a busy machine that hop cost more than the rest of the certificate work.
 */
const fingerprints = new Lru<string, string>(2048);
const latin1 = new TextDecoder("latin1");

/**
 * The last answer for a DER object, with a private copy of the bytes it was computed from: a connection hands
 * the same chain objects to every request on it, so one byte comparison (native) replaces the copy, the
 * latin1 string and two lookups. The copy is compared, so a caller's buffer changed in place is not trusted.
 */
const byObject = new WeakMap<Uint8Array, { bytes: Uint8Array; fingerprint: string; certificate: ParsedCertificate | null }>();

/** Fingerprints the DER, then decodes it (or takes it from the cache); `certificate` is null if undecodable. */
export async function loadCertificate(der: Uint8Array): Promise<{ fingerprint: string; certificate: ParsedCertificate | null }> {
  const seen = byObject.get(der);
  if (seen && Buffer.compare(seen.bytes, der) === 0) return { fingerprint: seen.fingerprint, certificate: seen.certificate };
  const loaded = await load(der);
  byObject.set(der, { bytes: loaded.bytes, fingerprint: loaded.fingerprint, certificate: loaded.certificate });
  return { fingerprint: loaded.fingerprint, certificate: loaded.certificate };
}

async function load(der: Uint8Array): Promise<{ bytes: Uint8Array; fingerprint: string; certificate: ParsedCertificate | null }> {
  // Own copy: the caller's buffer may be a view into a pooled socket buffer.
  const bytes = new Uint8Array(der);
  const content = latin1.decode(bytes);
  let fingerprint = fingerprints.get(content);
  if (fingerprint === undefined) {
    fingerprint = await sha256Hex(bytes);
    fingerprints.set(content, fingerprint);
  }
  const cached = parsed.get(fingerprint);
  if (cached) return { bytes, fingerprint, certificate: cached };
  try {
    const certificate = parseCertificate(bytes, fingerprint);
    parsed.set(fingerprint, certificate);
    return { bytes, fingerprint, certificate };
  } catch {
    return { bytes, fingerprint, certificate: null };
  }
}
