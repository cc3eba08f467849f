import type { ParsedCertificate } from "./lib/certificate.ts";
import { sha256Hex } from "./lib/digest.ts";
import { loadCertificate } from "./lib/load.ts";
import type { LeafSummary } from "./types.ts";

/** A presented leaf decoded once per login: what the audit log records, and what verification judges. */
export interface DecodedLeaf {
  summary: LeafSummary;
  certificate: ParsedCertificate;
}

/** Decodes a leaf (or takes it from the certificate cache); null if it does not decode. */
export async function decodeLeaf(der: Uint8Array): Promise<DecodedLeaf | null> {
  try {
    const { certificate } = await loadCertificate(der);
    if (!certificate) return null;
    // PostgreSQL text cannot hold NUL, which a subject may carry; RFC 4514 writes it as \00.
    return { certificate, summary: { fingerprint: certificate.fingerprint, subject: certificate.subject.replace(/\u0000/g, "\\00") } };
  } catch {
    return null;
  }
}

/** Fingerprint (SHA-256 hex of the DER) and RFC 4514-style subject of a leaf; null if it does not decode. */
export async function summarizeLeaf(der: Uint8Array): Promise<LeafSummary | null> {
  return (await decodeLeaf(der))?.summary ?? null;
}

/** SHA-256 hex of a leaf's DER, without parsing or caching it: for attempts refused before the leaf matters. */
export function fingerprintLeaf(der: Uint8Array): Promise<string> {
  return sha256Hex(der as Uint8Array<ArrayBuffer>);
}
