import { readFileSync } from "node:fs";
import { introspectToken } from "../tokens/introspect.ts";
import { tokenStore } from "../tokens/store.ts";
import { CliError, formatRecord, output, stringOption, withDatabase, type Command } from "./command.ts";
import { signerFor } from "./signer.ts";

/** The token from the argument, a file, or stdin (`-`); files and stdin keep it out of shell history. */
function readToken(arg: string | undefined, file: string | undefined): string {
  let raw: string;
  if (file !== undefined) {
    try {
      raw = readFileSync(file, "utf8");
    } catch (err) {
      throw new CliError(`cannot read --token-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else if (arg === undefined || arg === "-") {
    raw = readFileSync(0, "utf8");
  } else {
    raw = arg;
  }
  const token = raw.trim();
  if (!token) throw new CliError("no token given", 2);
  return token;
}

export const tokenCommands: Command[] = [
  {
    path: ["token", "introspect"],
    summary: "Say whether an access token is active and what it holds (RFC 7662 style); spends no use.",
    args: "[<token> | -]",
    options: { "token-file": { type: "string", value: "<file>", description: "read the token from this file" } },
    details: "Without <token>, or with -, the token is read from standard input.",
    async run(ctx) {
      const token = readToken(ctx.positionals[0], stringOption(ctx, "token-file"));
      const result = await withDatabase(ctx.env, async (database, config) =>
        introspectToken({ tokens: tokenStore(database.db), signer: await signerFor(database, config), clock: () => new Date() }, token),
      );
      output(ctx, result, () => {
        if (!result.active) return "inactive (expired, revoked, used up, unknown, or not signed by this service)";
        return `active\n${formatRecord({ ...result, exp: `${result.exp} (${new Date(result.exp * 1000).toISOString()})` })}`;
      });
      return result.active ? 0 : 3;
    },
  },
];
