/**
 * A least-recently-used map bounded by the bytes its entries are charged, not by their count: a thousand
 * 90 KiB certificates must not fit where a thousand 1 KiB ones do. An entry charged more than the whole
 * budget is not kept.
 */
export class ByteBudgetCache<K, V> {
  readonly #map = new Map<K, { value: V; bytes: number }>();
  #bytes = 0;
  constructor(readonly budget: number) {}

  get(key: K): V | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, entry);
    return entry.value;
  }

  /** Reads without refreshing the entry's recency. */
  peek(key: K): V | undefined {
    return this.#map.get(key)?.value;
  }

  set(key: K, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.budget) return;
    while (this.#bytes + bytes > this.budget) {
      const oldest = this.#map.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
    this.#map.set(key, { value, bytes });
    this.#bytes += bytes;
  }

  delete(key: K): void {
    const entry = this.#map.get(key);
    if (entry === undefined) return;
    this.#map.delete(key);
    this.#bytes -= entry.bytes;
  }

  get size(): number {
    return this.#map.size;
  }

  /** What the entries held now are charged, at most `budget`. */
  get bytes(): number {
    return this.#bytes;
  }
}
