import type { ParsedCertificate } from "./lib/certificate.ts";
import { ByteBudgetCache } from "./lib/byte-budget-cache.ts";
import { chargeFor } from "./lib/load.ts";

interface Entry {
  paths: ParsedCertificate[][];
  expiresAt: number;
}

/**
 * Signature-verified certification paths, keyed by the compiled trust's identity and the SHA-256 of each
 * presented DER, so a returning client skips path building and signature checks. Only signatures are
 * cached: validity, CRLs and every other rule are re-evaluated against `now` on each login. An entry
 * expires at the earliest notAfter on its paths or nextUpdate of a CRL for their issuers. An entry is
 * charged the certificates it holds on to, anchors aside (the compiled trust holds those). One instance per
 * process, so the budget bounds every configuration's entries together.
 */
export class VerifiedChainCache {
  readonly #cache: ByteBudgetCache<string, Entry>;

  constructor(budgetBytes = 8 * 1024 * 1024) {
    this.#cache = new ByteBudgetCache(budgetBytes);
  }

  static key(trustId: string, fingerprints: readonly string[]): string {
    return `${trustId}:${fingerprints.join(":")}`;
  }

  get(key: string, now: Date): ParsedCertificate[][] | undefined {
    const entry = this.#cache.get(key);
    if (!entry) return undefined;
    if (now.getTime() > entry.expiresAt) {
      this.#cache.delete(key);
      return undefined;
    }
    return entry.paths;
  }

  set(key: string, paths: ParsedCertificate[][], expiresAt: number): void {
    const held = new Set(paths.flatMap((path) => path.slice(0, -1)));
    let bytes = key.length * 2;
    for (const cert of held) bytes += chargeFor(cert.der);
    this.#cache.set(key, { paths, expiresAt }, bytes);
  }

  get budget(): number {
    return this.#cache.budget;
  }

  get size(): number {
    return this.#cache.size;
  }

  get bytes(): number {
    return this.#cache.bytes;
  }
}

export const verifiedChains = new VerifiedChainCache();
