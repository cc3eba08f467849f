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

  it("past its budget takes from the owner charged the most: one owner filling it pushes out its own entries", () => {
    const cache = new ByteBudgetCache<string, string>(100);
    cache.set("b-1", "v", 20, "b");
    cache.set("b-2", "v", 10, "b");
    // a fills the rest, then keeps adding: each time, a is charged the most, so a's oldest goes.
    for (let i = 0; i < 20; i++) cache.set(`a-${i}`, "v", 10, "a");
    expect(cache.bytes).toBe(100);
    expect(cache.peek("b-1")).toBe("v");
    expect(cache.peek("b-2")).toBe("v");
    expect(cache.peek("a-12")).toBeUndefined();
    for (let i = 13; i < 20; i++) expect(cache.peek(`a-${i}`)).toBe("v");
    // b, charged less, still gets room: from a, whose least recently used entries go first.
    cache.get("a-13");
    cache.set("b-3", "v", 20, "b");
    expect(cache.peek("a-14")).toBeUndefined();
    expect(cache.peek("a-15")).toBeUndefined();
    expect(cache.peek("a-13")).toBe("v");
    expect(cache.peek("b-1")).toBe("v");
    // Once b is charged the most (50 against 50, then more), b's own oldest goes.
    cache.set("b-4", "v", 10, "b");
    expect(cache.peek("b-1")).toBeUndefined();
    expect(cache.bytes).toBeLessThanOrEqual(100);
  });

  it("counts entries without an owner as one owner once owners are named, and forgets an owner with no entries", () => {
    const cache = new ByteBudgetCache<string, string>(100);
    for (let i = 0; i < 6; i++) cache.set(`plain-${i}`, "v", 10);
    cache.set("a-0", "v", 30, "a");
    cache.set("a-1", "v", 20, "a");
    // The entries without an owner (60) are charged the most: theirs go first.
    expect(cache.peek("plain-0")).toBeUndefined();
    expect(cache.peek("plain-1")).toBe("v");
    cache.delete("a-0");
    cache.delete("a-1");
    cache.set("b-0", "v", 60, "b");
    expect(cache.bytes).toBeLessThanOrEqual(100);
    expect(cache.peek("b-0")).toBe("v");
  });

  it("keeps counting an owner whose only entry made room for its next one", () => {
    const cache = new ByteBudgetCache<string, string>(100);
    cache.set("b-0", "v", 30, "b");
    cache.set("a-0", "v", 70, "a");
    // a is charged the most: its only entry goes, and its new one must still count as a's.
    cache.set("a-1", "v", 70, "a");
    expect(cache.peek("a-0")).toBeUndefined();
    cache.set("b-1", "v", 40, "b");
    // a (70) is charged the most again, so a-1 makes room, not b-0.
    expect(cache.peek("a-1")).toBeUndefined();
    expect(cache.peek("b-0")).toBe("v");
    expect(cache.bytes).toBe(70);
  });
});
