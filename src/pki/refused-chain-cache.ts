/**
 * Presented chains that no signature-verified path joins to the trust anchors, keyed like the verified-chain
 * cache (the compiled trust's id and each presented fingerprint), for a short while: a repeated hostile bundle
 * costs a lookup. An entry cannot wrongly refuse a later login: path building reads only the anchors (a new
 * configuration is a new id) and signatures (deterministic), and every rule that depends on time runs after it.
 * One instance per process, bounded in entries and bytes whatever the number of configurations.
 */
export class RefusedChainCache {
  readonly #expiries = new Map<string, number>();
  #bytes = 0;
  /** Lookups answered from the cache. */
  hits = 0;

  constructor(
    readonly maxEntries = 4096,
    readonly maxBytes = 2 << 20,
    readonly ttlMs = 60_000,
  ) {}

  has(key: string, now: Date): boolean {
    const expiresAt = this.#expiries.get(key);
    if (expiresAt === undefined) return false;
    if (now.getTime() >= expiresAt) {
      this.#delete(key);
      return false;
    }
    this.hits++;
    return true;
  }

  add(key: string, now: Date): void {
    this.#delete(key);
    this.#expiries.set(key, now.getTime() + this.ttlMs);
    this.#bytes += bytesOf(key);
    // Oldest first: every entry lives the same TTL, so insertion order is expiry order.
    for (const oldest of this.#expiries.keys()) {
      if (this.#expiries.size <= this.maxEntries && this.#bytes <= this.maxBytes) break;
      this.#delete(oldest);
    }
  }

  get size(): number {
    return this.#expiries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  #delete(key: string): void {
    if (this.#expiries.delete(key)) this.#bytes -= bytesOf(key);
  }
}

/** A key is ASCII (one byte a character in the engine) plus the map entry and the expiry. */
const bytesOf = (key: string) => key.length + 64;

export const refusedChains = new RefusedChainCache();
