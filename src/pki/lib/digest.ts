import { createHash } from "node:crypto";

/**
 * SHA-256 of `bytes`, lowercase hex. Synchronous node:crypto (on Bun, Deno and Node alike): crypto.subtle.digest
 * goes through a thread pool and back, which costs more than hashing a certificate.
 */
export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return createHash("sha256").update(bytes).digest("hex");
}
