/**
 * Text that may reach an operator's terminal (the human log line, CLI output) holds values a client chose: a
 * certificate subject, a request path, a name set through the admin API. Control characters in them could
 * rewrite the terminal (ESC sequences, C1 CSI, BEL), so they are shown as escapes; other Unicode is kept.
 */

/** C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
/** What JSON.stringify leaves raw of the above: it escapes C0 only. */
const JSON_RAW_CONTROL = /[\u007f-\u009f\u2028\u2029]/g;

const SHORT: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

const hex = (c: string, width: number) => c.charCodeAt(0).toString(16).padStart(width, "0");

/** `svc\x1b[2J` for a subject holding ESC: readable, and inert in any terminal. */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => SHORT[c] ?? (c <= "\u00ff" ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`));
}

/** JSON.stringify with DEL, C1 and U+2028/2029 escaped as well: the same value once parsed, inert when printed. */
export function terminalJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(JSON_RAW_CONTROL, (c) => `\\u${hex(c, 4)}`);
}
