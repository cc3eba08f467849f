/** Real client certificates are a few KiB; a larger one is refused before it is parsed or cached. */
export const MAX_CERTIFICATE_BYTES = 16 * 1024;
/** Leaf and intermediates together; intermediates past it (or past MAX_CERTIFICATE_BYTES) are not read. */
export const MAX_CHAIN_BYTES = 64 * 1024;

/** The presented certificates verification reads: the leaf, then the intermediates that fit both limits. */
export function withinLimits(chain: readonly Uint8Array[]): Uint8Array[] {
  const kept: Uint8Array[] = [];
  let total = 0;
  for (const der of chain) {
    if (der.byteLength > MAX_CERTIFICATE_BYTES || total + der.byteLength > MAX_CHAIN_BYTES) continue;
    total += der.byteLength;
    kept.push(der);
  }
  return kept;
}

/** The sentence refusing a leaf over MAX_CERTIFICATE_BYTES; null when it is within it. */
export function leafTooLarge(leafDer: Uint8Array): string | null {
  if (leafDer.byteLength <= MAX_CERTIFICATE_BYTES) return null;
  return `The client certificate is ${leafDer.byteLength} bytes; certificates larger than ${MAX_CERTIFICATE_BYTES / 1024} KiB are refused.`;
}
