import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { anyRunGlob, labelGlob } from "../../src/pki/lib/glob.ts";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";
import { reason, settings } from "./support.ts";

/** The regular-expression globs certauth used before: the semantics the linear matcher must keep. */
function regexGlob(pattern: string, star: string, ignoreCase: boolean): (value: string) => boolean {
  if (!pattern.includes("*")) {
    const expected = ignoreCase ? pattern.toLowerCase() : pattern;
    return (value) => (ignoreCase ? value.toLowerCase() : value) === expected;
  }
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(`^${pattern.split("*").map(escape).join(star)}$`, ignoreCase ? "iu" : "u");
  return (value) => re.test(value);
}

// Case pairs and folds that differ between toLowerCase and /iu (ſ, Kelvin K, final ς, ẞ, dotless ı, İ), a dot,
// regex metacharacters, and the halves of a surrogate pair, which /u never matches apart.
const ALPHABET = ["a", "A", "b", ".", "*", "-", "?", "(", "ß", "ẞ", "k", "K", "\u212a", "s", "ſ", "σ", "ς", "Σ", "i", "I", "ı", "İ", "😀", "\ud83d", "\ude00"];
const text = (maxLength: number) => fc.array(fc.constantFrom(...ALPHABET), { maxLength }).map((chars) => chars.join(""));

describe("globs", () => {
  for (const [name, glob, star] of [
    ["any-run", anyRunGlob, "[^]*"],
    ["label", labelGlob, "[^.]*"],
  ] as const) {
    for (const ignoreCase of [false, true]) {
      it(`${name} globs${ignoreCase ? " ignoring case" : ""} answer exactly what the old regular expressions answered`, () => {
        fc.assert(
          fc.property(text(8), fc.array(text(10), { minLength: 1, maxLength: 8 }), (pattern, values) => {
            const linear = glob(pattern, ignoreCase);
            const regex = regexGlob(pattern, star, ignoreCase);
            for (const value of values) expect(linear(value)).toBe(regex(value));
          }),
          // A piece that is half of a surrogate pair never matches inside the pair, at either end or in the middle.
          { numRuns: 3000, examples: [["*\ude00*", ["😀", "a\ude00"]], ["\ud83d*", ["😀"]], ["*\ude00", ["😀"]], ["*.\ud83d*", ["a.😀"]]] },
        );
      });
    }
  }

  it("finishes the patterns that made the regular expressions backtrack for seconds to minutes", () => {
    const hostile = ["*a*a*a*a*a*a*a*a*b", `${"*a".repeat(200)}*b`, "*.*.*a*a*a*a*a*a*a*a*b"];
    const names = ["a".repeat(64), "a".repeat(1024), `${"a.".repeat(511)}a`];
    for (const pattern of hostile) {
      for (const value of names) {
        expect(labelGlob(pattern)(value)).toBe(false);
        expect(anyRunGlob(pattern, true)(value)).toBe(false);
      }
    }
    expect(anyRunGlob("*a*a*a*a*a*a*a*a*b")(`${"a".repeat(1023)}b`)).toBe(true);
  });

  it("finds a long middle piece in one pass over the value, where indexOf compares it at every position", () => {
    // For indexOf (JavaScriptCore and V8 alike) this is 800,000 positions × up to 40,001 characters: minutes.
    const piece = `${"a".repeat(20_000)}b${"a".repeat(20_000)}`;
    const value = "a".repeat(800_000);
    expect(anyRunGlob(`*${piece}*c`)(`${value}c`)).toBe(false);
    expect(labelGlob(`*${piece}*c`)(`${value}c`)).toBe(false);
    expect(anyRunGlob(`*${piece}*c`)(`${value}${piece}c`)).toBe(true);
  }, 5_000);

  it("refuses a 64 × a common name against *a*a*a*a*a*a*a*a*b at login, and lets a matching one in", async () => {
    const ca = await makeCa();
    const hostile = settings(ca, { allowedCommonNames: "*a*a*a*a*a*a*a*a*b" });
    expect(await reason(hostile, [await makeLeaf({ issuer: ca, cn: "a".repeat(64) })])).toBe("common_name_not_allowed");
    expect(await reason(hostile, [await makeLeaf({ issuer: ca, cn: `${"a".repeat(63)}b` })])).toBe("ok");
    const sans = settings(ca, { allowedSubjectAltNames: [`dns:${"*a".repeat(20)}*b.example.com`, `uri:spiffe://${"*a".repeat(20)}*b`] });
    const leaf = await makeLeaf({ issuer: ca, cn: "x", sans: { dns: [`${"a".repeat(60)}.example.com`], uri: [`spiffe://${"a".repeat(200)}`] } });
    expect(await reason(sans, [leaf])).toBe("subject_alt_name_not_allowed");
  });
});
