/**
 * A least-recently-used map bounded by the bytes its entries are charged, not by their count: a thousand
 * 90 KiB certificates must not fit where a thousand 1 KiB ones do. An entry charged more than the whole
 * budget is not kept.
 *
 * Entries may name an owner (a tenant). Past the budget, the least recently used entry of the owner charged
 * the most goes first, so one owner filling the cache pushes out its own entries, not those of owners that
 * hold less. Entries without an owner are one owner together.
 */
export class ByteBudgetCache<K, V> {
  readonly #map = new Map<K, { value: V; bytes: number; owner: unknown }>();
  /** Each owner's keys, least recently used first, and what they are charged; kept only once an owner is named. */
  readonly #owners = new Map<unknown, { keys: Set<K>; bytes: number }>();
  #bytes = 0;
  constructor(readonly budget: number) {}

  get(key: K): V | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, entry);
    const keys = this.#owners.size > 0 ? this.#owners.get(entry.owner)?.keys : undefined;
    if (keys) {
      keys.delete(key);
      keys.add(key);
    }
    return entry.value;
  }

  /** Reads without refreshing the entry's recency. */
  peek(key: K): V | undefined {
    return this.#map.get(key)?.value;
  }

  set(key: K, value: V, bytes: number, owner?: unknown): void {
    this.delete(key);
    if (bytes > this.budget) return;
    if (owner !== undefined && !this.#owners.has(owner)) this.#startOwners(owner);
    while (this.#bytes + bytes > this.budget) {
      const victim = this.#owners.size > 0 ? this.#largestOwnersOldest() : this.#map.keys().next().value;
      if (victim === undefined) break;
      this.delete(victim);
    }
    this.#map.set(key, { value, bytes, owner });
    this.#bytes += bytes;
    // Making room may have taken the owner's last entry, and its record with it.
    if (owner !== undefined && !this.#owners.has(owner)) this.#owners.set(owner, { keys: new Set(), bytes: 0 });
    const mine = this.#owners.get(owner);
    if (mine) {
      mine.keys.add(key);
      mine.bytes += bytes;
    }
  }

  delete(key: K): void {
    const entry = this.#map.get(key);
    if (entry === undefined) return;
    this.#map.delete(key);
    this.#bytes -= entry.bytes;
    const mine = this.#owners.get(entry.owner);
    if (mine) {
      mine.keys.delete(key);
      mine.bytes -= entry.bytes;
      if (mine.keys.size === 0 && entry.owner !== undefined) this.#owners.delete(entry.owner);
    }
  }

  get size(): number {
    return this.#map.size;
  }

  /** What the entries held now are charged, at most `budget`. */
  get bytes(): number {
    return this.#bytes;
  }

  /** From the first named owner on, every entry is counted under its owner (those without one under `undefined`). */
  #startOwners(owner: unknown): void {
    if (this.#owners.size === 0) {
      const unowned = { keys: new Set<K>(), bytes: 0 };
      for (const [key, entry] of this.#map) {
        unowned.keys.add(key);
        unowned.bytes += entry.bytes;
      }
      this.#owners.set(undefined, unowned);
    }
    this.#owners.set(owner, { keys: new Set(), bytes: 0 });
  }

  #largestOwnersOldest(): K | undefined {
    let largest: { keys: Set<K>; bytes: number } | undefined;
    for (const held of this.#owners.values()) if (held.keys.size > 0 && (!largest || held.bytes > largest.bytes)) largest = held;
    return largest?.keys.values().next().value;
  }
}
