/**
 * Globs matched in linear time, with no regular expression to backtrack: a pattern is split on `*`; the first
 * piece must be a prefix, the last a suffix, and the middle pieces are found in order, each at its leftmost
 * place (taking the earliest occurrence leaves the most room for the rest, so that is never wrong for `*`).
 * Middle pieces are found with Knuth-Morris-Pratt: `indexOf` is O(value × piece) on some inputs in every runtime.
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

/** A piece between two stars, with its Knuth-Morris-Pratt failure table. */
interface Needle {
  text: string;
  failure: Int32Array;
}

/** A pattern split on `*` (at least two pieces): prefix, middle pieces, suffix. */
interface Pieces {
  first: string;
  middle: Needle[];
  last: string;
}

function needle(text: string): Needle {
  const failure = new Int32Array(text.length);
  for (let i = 1, k = 0; i < text.length; i++) {
    while (k > 0 && text.charCodeAt(i) !== text.charCodeAt(k)) k = failure[k - 1]!;
    if (text.charCodeAt(i) === text.charCodeAt(k)) k++;
    failure[i] = k;
  }
  return { text, failure };
}

function splitPieces(pattern: string): Pieces {
  const pieces = pattern.split("*");
  const middle = pieces.slice(1, -1).filter((piece) => piece !== "").map(needle);
  return { first: pieces[0]!, middle, last: pieces[pieces.length - 1]! };
}

/** Where the needle first occurs in value[from, end) between code points, or -1; one pass over the range. */
function find(value: string, { text, failure }: Needle, from: number, end: number): number {
  for (let i = from, k = 0; i < end; i++) {
    const unit = value.charCodeAt(i);
    while (k > 0 && unit !== text.charCodeAt(k)) k = failure[k - 1]!;
    if (unit === text.charCodeAt(k)) k++;
    if (k === text.length) {
      const at = i + 1 - k;
      if (boundary(value, at) && boundary(value, i + 1)) return at;
      k = failure[k - 1]!;
    }
  }
  return -1;
}

/** Whether `value` matches the pieces, `*` matching any run of code points. */
function matchesPieces({ first, middle, last }: Pieces, value: string): boolean {
  const end = value.length - last.length;
  if (end < first.length || !value.startsWith(first) || !value.endsWith(last)) return false;
  if (!boundary(value, first.length) || !boundary(value, end)) return false;
  let position = first.length;
  for (const piece of middle) {
    const at = find(value, piece, position, end);
    if (at < 0) return false;
    position = at + piece.text.length;
  }
  return true;
}

/** A glob in which `*` matches any run of characters, optionally ignoring case. */
export function anyRunGlob(pattern: string, ignoreCase = false): Matcher {
  if (!pattern.includes("*")) return exact(pattern, ignoreCase);
  const fold = ignoreCase ? foldCase : (s: string) => s;
  const pieces = splitPieces(fold(pattern));
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
    .map((label) => (label.includes("*") ? splitPieces(label) : label));
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
