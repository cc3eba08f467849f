/**
 * Globs matched in linear time, with no regular expression to backtrack: a pattern is split on `*`; the first
 * piece must be a prefix, the last a suffix, and the middle pieces are found in order, each at its leftmost
 * place (taking the earliest occurrence leaves the most room for the rest, so that is never wrong for `*`).
 * Matching is by code point, as a /u regular expression matches; ignoring case folds each code point as /iu does.
 */
export type Matcher = (value: string) => boolean;

const isHigh = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;
const isLow = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;

/** Whether `i` falls between two code points of `text` (not inside a surrogate pair). */
function boundary(text: string, i: number): boolean {
  return i === 0 || i === text.length || !(isHigh(text.charCodeAt(i - 1)) && isLow(text.charCodeAt(i)));
}

const oneCodePoint = (s: string) => s.length === 1 || (s.length === 2 && s.codePointAt(0)! > 0xffff);

/** Unicode simple case folding of one code point, as a /iu regular expression canonicalises it. */
function foldCodePoint(c: string): string {
  // Dotless ı has no simple case folding, but upper-then-lower would make it an i.
  if (c === "\u0131") return c;
  const upper = c.toUpperCase();
  if (oneCodePoint(upper)) {
    const lower = upper.toLowerCase();
    return oneCodePoint(lower) ? lower : upper;
  }
  const lower = c.toLowerCase();
  return oneCodePoint(lower) ? lower : c;
}

function foldCase(text: string): string {
  if (/^[\x00-\x7f]*$/.test(text)) return text.toLowerCase();
  let out = "";
  for (const c of text) out += foldCodePoint(c);
  return out;
}

/** Whether `value` matches the `*`-separated `pieces` (at least two), `*` matching any run of code points. */
function matchesPieces(pieces: readonly string[], value: string): boolean {
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  const end = value.length - last.length;
  if (end < first.length || !value.startsWith(first) || !value.endsWith(last)) return false;
  if (!boundary(value, first.length) || !boundary(value, end)) return false;
  let position = first.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i]!;
    if (piece === "") continue;
    let at = value.indexOf(piece, position);
    while (at >= 0 && !(boundary(value, at) && boundary(value, at + piece.length))) at = value.indexOf(piece, at + 1);
    if (at < 0 || at + piece.length > end) return false;
    position = at + piece.length;
  }
  return true;
}

/** A glob in which `*` matches any run of characters, optionally ignoring case. */
export function anyRunGlob(pattern: string, ignoreCase = false): Matcher {
  if (!pattern.includes("*")) return exact(pattern, ignoreCase);
  const fold = ignoreCase ? foldCase : (s: string) => s;
  const pieces = fold(pattern).split("*");
  return (value) => matchesPieces(pieces, fold(value));
}

/**
 * A glob in which `*` matches any run of characters other than `.` (one DNS label, or part of it): a pattern
 * with k dots matches only values with k dots, label against label.
 */
export function labelGlob(pattern: string, ignoreCase = false): Matcher {
  if (!pattern.includes("*")) return exact(pattern, ignoreCase);
  const fold = ignoreCase ? foldCase : (s: string) => s;
  const labels = fold(pattern)
    .split(".")
    .map((label) => (label.includes("*") ? label.split("*") : label));
  return (value) => {
    const parts = fold(value).split(".");
    if (parts.length !== labels.length) return false;
    return labels.every((label, i) => (typeof label === "string" ? parts[i] === label : matchesPieces(label, parts[i]!)));
  };
}

/** A pattern without `*` compares whole (lower-cased when ignoring case). */
function exact(pattern: string, ignoreCase: boolean): Matcher {
  if (!ignoreCase) return (value) => value === pattern;
  const expected = pattern.toLowerCase();
  return (value) => value.toLowerCase() === expected;
}
