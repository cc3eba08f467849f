/**
 * Structured logs, one line per event: JSON, or a short human line when stdout is a terminal. Callers pass
 * fields, never secrets; as a second line of defence a string that looks like a token, a PEM block or a bearer
 * header is replaced before it is written.
 */
import { escapeControls, terminalJson } from "./terminal.ts";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Whether a line at `level` would be written: lets a caller skip building fields nobody reads. */
  enabled(level: Exclude<LogLevel, "silent">): boolean;
}

export type LogFormat = "json" | "pretty";

/** A JWT (three base64url parts, the first a JSON header), a PEM block, or a bearer credential. */
const SECRET = /eyJ[\w-]*\.[\w-]+\.|-----BEGIN [A-Z0-9 ]+-----|\bBearer\s+\S+/;

function redact(value: unknown): unknown {
  return typeof value === "string" && SECRET.test(value) ? "[redacted]" : value;
}

/** Pretty when stdout is a terminal, read through globalThis so that this file stays runtime-neutral. */
function defaultFormat(): LogFormat {
  const proc = (globalThis as { process?: { stdout?: { isTTY?: boolean } } }).process;
  return proc?.stdout?.isTTY === true ? "pretty" : "json";
}

const COLORS: Record<Exclude<LogLevel, "silent">, string> = { debug: "\x1b[90m", info: "\x1b[36m", warn: "\x1b[33m", error: "\x1b[31m" };

function prettyLine(level: Exclude<LogLevel, "silent">, time: string, msg: string, fields: Record<string, unknown>): string {
  const parts: string[] = [];
  if (msg === "request") {
    const { method, path, status, durationMs } = fields;
    parts.push(escapeControls(`${method} ${path} ${status} ${durationMs}ms`));
  } else {
    parts.push(escapeControls(msg));
  }
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (msg === "request" && (key === "method" || key === "path" || key === "status" || key === "durationMs")) continue;
    parts.push(`${key}=${typeof value === "string" ? escapeControls(value) : terminalJson(value)}`);
  }
  return `${time.slice(11, 23)} ${COLORS[level]}${level.toUpperCase().padEnd(5)}\x1b[0m ${parts.join(" ")}`;
}

/**
 * stdout, a batch at a time: the lines of one turn of the event loop go out in one console.log, a costly call on
 * Bun's server path. A warning or an error flushes at once, and so does the process's exit, so that nothing
 * before a crash or a shutdown is held back.
 */
let pending: string[] = [];
let hooked = false;
function flushPending(): void {
  if (pending.length === 0) return;
  const lines = pending;
  pending = [];
  console.log(lines.join("\n"));
}
function batchedStdout(line: string, urgent: boolean): void {
  const first = pending.push(line) === 1;
  if (urgent || pending.length >= 256) return flushPending();
  if (!first) return;
  if (!hooked) {
    hooked = true;
    (globalThis as { process?: { on?(event: string, fn: () => void): void } }).process?.on?.("exit", flushPending);
  }
  setTimeout(flushPending, 0);
}

export function createLogger(
  level: LogLevel,
  write?: (line: string) => void,
  format: LogFormat = defaultFormat(),
): Logger {
  const at = (lvl: Exclude<LogLevel, "silent">) => (msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < ORDER[level]) return;
    const time = new Date().toISOString();
    const safe: Record<string, unknown> = {};
    if (fields) for (const key in fields) safe[key] = redact(fields[key]);
    const line = format === "pretty" ? prettyLine(lvl, time, msg, safe) : terminalJson({ level: lvl, time, msg, ...safe });
    if (write) write(line);
    else batchedStdout(line, ORDER[lvl] >= ORDER.warn);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), enabled: (lvl) => ORDER[lvl] >= ORDER[level] };
}
