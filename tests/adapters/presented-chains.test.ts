/** What the bridge remembers of full handshakes to complete a chain Node reports as the leaf alone on resumption. */
import { describe, expect, it } from "bun:test";
import { PresentedChains } from "../../src/adapters/node-tls/presented-chains.ts";

const der = (byte: number, length = 100) => new Uint8Array(length).fill(byte);

describe("PresentedChains", () => {
  it("completes a leaf alone with what came after it in its latest full handshake", () => {
    const chains = new PresentedChains();
    chains.remember([der(1), der(2)]);
    chains.remember([der(1), der(3), der(4)]);
    expect(chains.complete([der(1)])).toEqual([der(1), der(3), der(4)]);
  });

  it("leaves a chain alone when the runtime reported more than the leaf, or nothing, or an unknown leaf", () => {
    const chains = new PresentedChains();
    chains.remember([der(1), der(2)]);
    expect(chains.complete([der(1), der(9)])).toEqual([der(1), der(9)]);
    expect(chains.complete([])).toEqual([]);
    expect(chains.complete([der(7)])).toEqual([der(7)]);
  });

  it("drops the oldest leaves past its byte budget", () => {
    // Each entry: 100 bytes of intermediate + a 44-character key.
    const chains = new PresentedChains(300);
    for (const leaf of [1, 2, 3]) chains.remember([der(leaf), der(leaf + 100)]);
    expect(chains.complete([der(1)])).toEqual([der(1)]);
    expect(chains.complete([der(2)])).toEqual([der(2), der(102)]);
    expect(chains.complete([der(3)])).toEqual([der(3), der(103)]);
  });
});
