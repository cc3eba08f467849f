const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** An anchored matcher in which `*` matches `star` (a regex fragment) and everything else is literal. */
export function globMatcher(pattern: string, star: string, flags = ""): (value: string) => boolean {
  if (!pattern.includes("*")) {
    const lower = flags.includes("i");
    const expected = lower ? pattern.toLowerCase() : pattern;
    return (value) => (lower ? value.toLowerCase() : value) === expected;
  }
  const re = new RegExp(`^${pattern.split("*").map(escape).join(star)}$`, `${flags}u`);
  return (value) => re.test(value);
}

/** `*` matches any run of characters. */
export const anyRunGlob = (pattern: string, flags = "") => globMatcher(pattern, "[^]*", flags);
/** `*` matches any run of characters other than `.` (one DNS label, or part of it). */
export const labelGlob = (pattern: string, flags = "") => globMatcher(pattern, "[^.]*", flags);
