import { describe, expect, test } from "bun:test";
import { collectAfterStatements } from "../../src/adapters/bun/collector.ts";

describe("Bun collector hints", () => {
  test("the embedded database's statements ask for a young collection every 32 statements, never a full one under load", () => {
    const calls: boolean[] = [];
    const statement = collectAfterStatements((full) => calls.push(full));
    for (let i = 0; i < 31; i++) statement();
    expect(calls).toEqual([]);
    statement();
    expect(calls).toEqual([false]);
    for (let i = 0; i < 64; i++) statement();
    expect(calls).toEqual([false, false, false]);
  });

  test("the young collections it asks for are real ones: garbage of short-lived buffers is freed", async () => {
    // Bun.gc(false) runs a young-generation collection, as the statement hint relies on.
    let freed = 0;
    const registry = new FinalizationRegistry(() => freed++);
    (() => {
      for (let i = 0; i < 1000; i++) registry.register(new Uint8Array(64), i);
    })();
    // Finalization callbacks run on a later turn of the event loop.
    for (let i = 0; i < 20 && freed === 0; i++) {
      Bun.gc(false);
      await Bun.sleep(1);
    }
    expect(freed).toBeGreaterThan(0);
  });
});
