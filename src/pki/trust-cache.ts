import { compileTrust, type CompiledTrust } from "./compile.ts";
import { Lru } from "./lib/lru.ts";
import type { TrustSettings } from "./types.ts";

/**
 * Compiled configurations by `${configId}:${updatedAt}`, least recently used evicted. Concurrent gets of
 * one key share one compilation; a failed compilation is not kept.
 */
export class TrustCache {
  readonly #lru: Lru<string, Promise<CompiledTrust>>;

  constructor(maxEntries = 256) {
    this.#lru = new Lru(maxEntries);
  }

  /** `settings` may be a loader, so that a hit never reads the (possibly megabytes of) CA and CRL text. */
  get(key: string, settings: TrustSettings | (() => Promise<TrustSettings>)): Promise<CompiledTrust> {
    const hit = this.#lru.get(key);
    if (hit) return hit;
    const compiling = typeof settings === "function" ? settings().then((loaded) => compileTrust(loaded)) : compileTrust(settings);
    this.#lru.set(key, compiling);
    compiling.catch(() => {
      if (this.#lru.peek(key) === compiling) this.#lru.delete(key);
    });
    return compiling;
  }
}
