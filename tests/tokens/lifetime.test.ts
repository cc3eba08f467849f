/** PRODUCT.md §2.2 / §2.4 TTL rules: 0 TTL = up to the max, 0 max = no max, never past MAX_TOKEN_TTL. */
import { describe, expect, it } from "bun:test";
import { initialLifetime, maxExpiry, renewedExpiry } from "../../src/tokens/lifetime.ts";

const CEILING = 7_776_000;
const t0 = new Date("2030-01-01T00:00:00Z");
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

describe("initialLifetime", () => {
  it("gives the TTL when it is below the max", () => expect(initialLifetime({ accessTokenTTL: 60, accessTokenMaxTTL: 600 }, CEILING)).toBe(60));
  it("gives the max when the TTL is 0", () => expect(initialLifetime({ accessTokenTTL: 0, accessTokenMaxTTL: 600 }, CEILING)).toBe(600));
  it("gives the TTL when the max is 0 (no max)", () => expect(initialLifetime({ accessTokenTTL: 60, accessTokenMaxTTL: 0 }, CEILING)).toBe(60));
  it("gives MAX_TOKEN_TTL when both are 0", () => expect(initialLifetime({ accessTokenTTL: 0, accessTokenMaxTTL: 0 }, CEILING)).toBe(CEILING));
  it("never exceeds MAX_TOKEN_TTL", () => {
    expect(initialLifetime({ accessTokenTTL: 315_360_000, accessTokenMaxTTL: 315_360_000 }, CEILING)).toBe(CEILING);
    expect(initialLifetime({ accessTokenTTL: 100, accessTokenMaxTTL: 0 }, 10)).toBe(10);
  });
});

describe("renewedExpiry", () => {
  const policy = { accessTokenTTL: 2, accessTokenMaxTTL: 3 };
  it("extends by the TTL from now", () => expect(renewedExpiry(policy, t0, at(0.5), CEILING)).toEqual(at(2.5)));
  it("stops at createdAt + max TTL", () => expect(renewedExpiry(policy, t0, at(2), CEILING)).toEqual(at(3)));
  it("is null once createdAt + max TTL has passed", () => expect(renewedExpiry(policy, t0, at(3), CEILING)).toBeNull());
  it("stops at createdAt + MAX_TOKEN_TTL when the max is 0", () => {
    expect(renewedExpiry({ accessTokenTTL: 5, accessTokenMaxTTL: 0 }, t0, at(8), 10)).toEqual(at(10));
    expect(renewedExpiry({ accessTokenTTL: 5, accessTokenMaxTTL: 0 }, t0, at(10), 10)).toBeNull();
  });
  it("extends by the max when the TTL is 0, still capped at createdAt + max", () => {
    expect(renewedExpiry({ accessTokenTTL: 0, accessTokenMaxTTL: 3 }, t0, at(1), CEILING)).toEqual(at(3));
  });
  it("anchors the max at creation", () => expect(maxExpiry(policy, t0, CEILING)).toEqual(at(3)));
});
