import type { ParsedCertificate } from "./lib/certificate.ts";
import { Lru } from "./lib/lru.ts";

interface Entry {
  paths: ParsedCertificate[][];
  expiresAt: number;
}

/**
 * Signature-verified certification paths, keyed by the compiled trust's identity and the SHA-256 of each
 * presented DER, so a returning client skips path building and signature checks. Only signatures are
 * cached: validity, CRLs and every other rule are re-evaluated against `now` on each login. An entry
 * expires at the earliest notAfter on its paths or nextUpdate of a CRL for their issuers.
 */
export class VerifiedChainCache {
  readonly #lru: Lru<string, Entry>;

  constructor(maxEntries = 10_000) {
    this.#lru = new Lru(maxEntries);
  }

  static key(trustId: string, fingerprints: readonly string[]): string {
    return `${trustId}:${fingerprints.join(":")}`;
  }

  get(key: string, now: Date): ParsedCertificate[][] | undefined {
    const entry = this.#lru.get(key);
    if (!entry) return undefined;
    if (now.getTime() > entry.expiresAt) {
      this.#lru.delete(key);
      return undefined;
    }
    return entry.paths;
  }

  set(key: string, paths: ParsedCertificate[][], expiresAt: number): void {
    this.#lru.set(key, { paths, expiresAt });
  }

  get size(): number {
    return this.#lru.size;
  }
}
