import { AppError } from "../errors.ts";
import { ConfigError } from "../config.ts";
import { isUnavailableError } from "../db/client.ts";
import { VERSION } from "../version.ts";
import { escapeControls } from "../terminal.ts";
import { CliError, parseCommandArgs, usageOf, type Command } from "./command.ts";
import { serveCommands } from "./serve.ts";
import { orgCommands } from "./org.ts";
import { identityCommands } from "./identity.ts";
import { tlsCertAuthCommands } from "./tls-cert-auth.ts";
import { tokenCommands } from "./token.ts";
import { keyCommands } from "./keys.ts";
import { auditCommands } from "./audit.ts";
import { quickstartCommands } from "./quickstart.ts";
import { loginCommands } from "./login.ts";
import { agentCommands } from "./agent.ts";
import { ownerOnlyUmask } from "../server/data-dir.ts";

export const COMMANDS: Command[] = [
  ...quickstartCommands,
  ...serveCommands,
  ...orgCommands,
  ...identityCommands,
  ...tlsCertAuthCommands,
  ...tokenCommands,
  ...keyCommands,
  ...auditCommands,
  ...loginCommands,
  ...agentCommands,
];

function overview(commands: Command[], prefix: string[] = []): string {
  const width = Math.max(...commands.map((c) => c.path.join(" ").length + (c.args ? c.args.length + 1 : 0))) + 2;
  const lines = commands.map((c) => `  ${`${c.path.join(" ")}${c.args ? ` ${c.args}` : ""}`.padEnd(width)}${c.summary}`);
  const head = prefix.length ? `certauth ${prefix.join(" ")} <command>` : `certauth ${VERSION}: machine identities log in with X.509 client certificates\n\nUsage: certauth <command> [options]`;
  return [
    head,
    "",
    "Commands:",
    ...lines,
    "",
    "Every command accepts --json and --help. The admin commands read the same environment as the server (DATA_DIR,",
    "DATABASE_URL, …); login and agent talk to a server over mutual TLS and read CERTAUTH_URL, CERTAUTH_CERT_FILE, ….",
  ].join("\n");
}

/** The command named by the leading words of argv, and the arguments after them. */
function select(argv: string[]): { command?: Command; rest: string[]; group: Command[]; words: string[] } {
  const words: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith("-")) break;
    words.push(arg);
    if (words.length === 2) break;
  }
  for (let n = words.length; n > 0; n--) {
    const command = COMMANDS.find((c) => c.path.length === n && c.path.every((w, i) => w === words[i]));
    if (command) return { command, rest: argv.slice(n), group: [], words };
  }
  const group = words.length ? COMMANDS.filter((c) => c.path[0] === words[0]) : [];
  return { rest: argv, group, words };
}

/** One line, never a stack trace: what went wrong and, where it helps, what to do. */
export function describeError(err: unknown): string {
  if (err instanceof CliError || err instanceof ConfigError) return err.message;
  if (err instanceof AppError) return err.message;
  if (isUnavailableError(err)) return `the database is unreachable (${(err as Error).message})`;
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0] || "unexpected error";
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const stdio: Io = { out: (t) => console.log(t), err: (t) => console.error(t) };

/** Runs one command line; resolves to the exit code. */
export async function run(argv: string[], env: Record<string, string | undefined> = process.env, io: Io = stdio): Promise<number> {
  const { command, rest, group, words } = select(argv);
  if (!command) {
    if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
      io.out(overview(COMMANDS));
      return 0;
    }
    if (argv[0] === "--version" || argv[0] === "-v") {
      io.out(VERSION);
      return 0;
    }
    if (group.length && (words.length === 1 || argv.includes("--help") || argv.includes("-h"))) {
      io.out(overview(group, [words[0]!]));
      return words.length === 1 ? 0 : 2;
    }
    io.err(`certauth: unknown command "${words.join(" ") || argv[0]}" (see certauth --help)`);
    return 2;
  }
  try {
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help) {
      io.out(usageOf(command));
      return 0;
    }
    const code = await command.run({ values, positionals, env, json: values.json === true, print: io.out, printError: io.err });
    return code ?? 0;
  } catch (err) {
    io.err(`certauth: ${escapeControls(describeError(err))}`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}

if (import.meta.main) {
  ownerOnlyUmask();
  process.exit(await run(process.argv.slice(2)));
}
