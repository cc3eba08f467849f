import { parseArgs } from "node:util";
import { loadConfig, type Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import { openConfiguredDatabase } from "../server/local-database.ts";
import { escapeControls, terminalJson } from "../terminal.ts";

/** A command-line option; `flag` options take no value. */
export interface OptionSpec {
  type: "string" | "boolean";
  description: string;
  /** Placeholder shown in --help, e.g. `<file>`. */
  value?: string;
  multiple?: boolean;
  short?: string;
}

export interface CommandContext {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  env: Record<string, string | undefined>;
  json: boolean;
  /** Standard output. */
  print(text: string): void;
  /** Standard error: a long-running command's log lines. */
  printError(text: string): void;
}

export interface Command {
  /** The words that select it: `["tls-cert-auth", "attach"]`. */
  path: string[];
  summary: string;
  /** Positional arguments, as shown in the usage line. */
  args?: string;
  options?: Record<string, OptionSpec>;
  /** Longer help after the options. */
  details?: string;
  run(ctx: CommandContext): Promise<number | void>;
}

/** A user error: printed as one line, exit code 1 (2 for usage errors). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: "boolean", description: "print JSON instead of text" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

export function parseCommandArgs(command: Command, argv: string[]) {
  const specs = { ...GLOBAL_OPTIONS, ...command.options };
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = { type: spec.type, ...(spec.multiple ? { multiple: true } : {}), ...(spec.short ? { short: spec.short } : {}) };
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    // node:util's messages name the option and say what is wrong; keep the first sentence.
    throw new CliError(`${(err as Error).message.split(". ")[0]} (see certauth ${command.path.join(" ")} --help)`, 2);
  }
}

export function usageOf(command: Command): string {
  const specs = { ...command.options, ...GLOBAL_OPTIONS };
  const lines = [`certauth ${command.path.join(" ")}${command.args ? ` ${command.args}` : ""}${command.options ? " [options]" : ""}`, "", command.summary, "", "Options:"];
  const left = Object.entries(specs).map(([name, spec]) => `${spec.short ? `-${spec.short}, ` : "    "}--${name}${spec.value ? ` ${spec.value}` : ""}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  Object.values(specs).forEach((spec, i) => {
    lines.push(`  ${left[i]!.padEnd(width)}${spec.description}${spec.multiple ? " (repeatable)" : ""}`);
  });
  if (command.details) lines.push("", command.details);
  return lines.join("\n");
}

export function stringOption(ctx: CommandContext, name: string): string | undefined {
  const value = ctx.values[name];
  return typeof value === "string" ? value : undefined;
}

export function requiredOption(ctx: CommandContext, name: string): string {
  const value = stringOption(ctx, name);
  if (value === undefined) throw new CliError(`--${name} is required`, 2);
  return value;
}

export function requiredArg(ctx: CommandContext, index: number, name: string): string {
  const value = ctx.positionals[index];
  if (value === undefined) throw new CliError(`missing <${name}>`, 2);
  return value;
}

/** Opens (and migrates) the database the server would use, from the same environment. */
export async function withDatabase<T>(env: Record<string, string | undefined>, fn: (database: Database, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(env);
  const database = await openConfiguredDatabase(config);
  try {
    return await fn(database, config);
  } finally {
    await database.close();
  }
}

/** `key  value` lines for a flat record; nested values as compact JSON; control characters escaped. */
export function formatRecord(record: Record<string, unknown>): string {
  const entries = Object.entries(record);
  const width = Math.max(...entries.map(([k]) => k.length)) + 2;
  return entries
    .map(([key, value]) => `${key.padEnd(width)}${value === null || value === undefined ? "-" : typeof value === "string" ? escapeControls(value) : terminalJson(value)}`)
    .join("\n");
}

/** Prints JSON under --json, else the human text, whose values each command escapes (escapeControls). */
export function output(ctx: CommandContext, value: unknown, human: () => string): void {
  ctx.print(ctx.json ? terminalJson(value, 2) : human());
}
