import { compileTrust, type CompiledTrust } from "./compile.ts";
import { ByteBudgetCache } from "./lib/byte-budget-cache.ts";
import { decodeHere, type CrlDecoder } from "./lib/crl.ts";
import type { TrustSettings } from "./types.ts";

/** Charged to a compilation still under way; replaced by what it retains once it is done. */
const COMPILING_BYTES = 4 * 1024;

/**
 * Compiled configurations by `${configId}:${updatedAt}`, least recently used evicted past a byte budget
 * (CA bundles and CRLs, charged by what they retain), from the tenant holding the most first: one tenant's
 * configurations cannot push out those of a tenant that holds less. Concurrent gets of one key share one compilation;
 * a failed compilation is not kept.
 */
export class TrustCache {
  readonly #cache: ByteBudgetCache<string, { compiling: Promise<CompiledTrust>; compiled?: CompiledTrust }>;

  constructor(
    budgetBytes = 256 * 1024 * 1024,
    private readonly decode: CrlDecoder = decodeHere,
  ) {
    this.#cache = new ByteBudgetCache(budgetBytes);
  }

  /** The configuration compiled under `key`, if its compilation has finished: a login's usual case, with no wait. */
  compiled(key: string): CompiledTrust | undefined {
    return this.#cache.get(key)?.compiled;
  }

  /**
   * `settings` may be a loader, so that a hit never reads the (possibly megabytes of) CA and CRL text; `decode`,
   * how a miss decodes its CRLs, defaults to the cache's own. `tenant` owns the entry: past the budget, the
   * tenant holding the most gives up its least recently used configuration first.
   */
  get(key: string, settings: TrustSettings | (() => Promise<TrustSettings>), decode: CrlDecoder = this.decode, tenant?: string): Promise<CompiledTrust> {
    const hit = this.#cache.get(key);
    if (hit) return hit.compiling;
    const compiling = typeof settings === "function" ? settings().then((loaded) => compileTrust(loaded, decode)) : compileTrust(settings, decode);
    const entry: { compiling: Promise<CompiledTrust>; compiled?: CompiledTrust } = { compiling };
    this.#cache.set(key, entry, COMPILING_BYTES, tenant);
    compiling.then(
      (trust) => {
        if (this.#cache.peek(key) !== entry) return;
        entry.compiled = trust;
        this.#cache.set(key, entry, trust.retainedBytes, tenant);
      },
      () => {
        if (this.#cache.peek(key) === entry) this.#cache.delete(key);
      },
    );
    return compiling;
  }

  get bytes(): number {
    return this.#cache.bytes;
  }
}
