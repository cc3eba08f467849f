import { describe, expect, it } from "bun:test";
import { ByteBudgetCache } from "../../src/pki/lib/byte-budget-cache.ts";

describe("ByteBudgetCache", () => {
  it("evicts the least recently used entries by the bytes they are charged, not by their count", () => {
    const cache = new ByteBudgetCache<string, string>(100);
    for (let i = 0; i < 10; i++) cache.set(`small-${i}`, "v", 10);
    expect(cache.size).toBe(10);
    expect(cache.bytes).toBe(100);
    cache.get("small-0");
    cache.set("large", "v", 45);
    // small-1 … small-5 (least recently used) make room; small-0 was just read.
    expect(cache.bytes).toBe(95);
    expect(cache.peek("small-0")).toBe("v");
    for (let i = 1; i <= 5; i++) expect(cache.peek(`small-${i}`)).toBeUndefined();
    expect(cache.peek("small-6")).toBe("v");
  });

  it("keeps no entry charged more than the whole budget, and drops what it replaces", () => {
    const cache = new ByteBudgetCache<string, string>(100);
    cache.set("a", "first", 30);
    cache.set("a", "huge", 101);
    expect(cache.peek("a")).toBeUndefined();
    expect(cache.bytes).toBe(0);
    cache.set("b", "v", 40);
    cache.set("b", "w", 20);
    expect(cache.bytes).toBe(20);
    cache.delete("b");
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });
});
