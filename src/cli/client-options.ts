import { readFileSync } from "node:fs";
import type { ClientOptions } from "../client/index.ts";
import { CliError, stringOption, type CommandContext, type OptionSpec } from "./command.ts";

/** The options of `certauth login` and `certauth agent`, each with the environment variable it falls back to. */
const FLAGS = {
  url: { env: "CERTAUTH_URL", spec: { type: "string", value: "<url>", description: "the server, e.g. https://certauth.internal:8443" } },
  cert: { env: "CERTAUTH_CERT_FILE", spec: { type: "string", value: "<file>", description: "client certificate, PEM (leaf first, then intermediates)" } },
  key: { env: "CERTAUTH_KEY_FILE", spec: { type: "string", value: "<file|->", description: "its private key, PEM; - reads it from standard input" } },
  ca: { env: "CERTAUTH_CA_FILE", spec: { type: "string", value: "<file>", description: "CA certificates the server's certificate chains to (default: the system's)" } },
  "identity-id": { env: "CERTAUTH_IDENTITY_ID", spec: { type: "string", value: "<id>", description: "the identity to log in as" } },
  "organization-slug": { env: "CERTAUTH_ORGANIZATION_SLUG", spec: { type: "string", value: "<slug>", description: "scope the token to this sub-organization" } },
} satisfies Record<string, { env: string; spec: OptionSpec }>;

type Flag = keyof typeof FLAGS;

export const CLIENT_OPTIONS: Record<string, OptionSpec> = Object.fromEntries(
  Object.entries(FLAGS).map(([name, { env, spec }]) => [name, { ...spec, description: `${spec.description} (${env})` }]),
);

export const CLIENT_DETAILS = "Each option may come from the environment variable after it; an option given on the command line wins.";

/** The option, else its environment variable (empty counts as unset). */
function pick(ctx: CommandContext, flag: Flag): string | undefined {
  return stringOption(ctx, flag) ?? (ctx.env[FLAGS[flag].env] || undefined);
}

function required(ctx: CommandContext, flag: Flag): string {
  const value = pick(ctx, flag);
  if (value === undefined) throw new CliError(`--${flag} (or ${FLAGS[flag].env}) is required`, 2);
  return value;
}

/** The client's options from the command line and environment, read once; `--key -` reads standard input. */
export function clientOptions(ctx: CommandContext): ClientOptions {
  const key = required(ctx, "key");
  const ca = pick(ctx, "ca");
  const organizationSlug = pick(ctx, "organization-slug");
  return {
    url: required(ctx, "url"),
    identityId: required(ctx, "identity-id"),
    certFile: required(ctx, "cert"),
    ...(key === "-" ? { key: readStdin() } : { keyFile: key }),
    ...(ca !== undefined ? { caFile: ca } : {}),
    ...(organizationSlug !== undefined ? { organizationSlug } : {}),
  };
}

function readStdin(): string {
  const text = readFileSync(0, "utf8");
  if (!text.trim()) throw new CliError("--key -: standard input is empty", 2);
  return text;
}

/** Builds the client's object, turning a mistake in the options (a TypeError) into a usage error. */
export async function usingOptions<T>(make: () => T | Promise<T>): Promise<T> {
  try {
    return await make();
  } catch (err) {
    if (err instanceof TypeError) throw new CliError(err.message.replace(/^certauth: /, ""), 2);
    throw err;
  }
}
