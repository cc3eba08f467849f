import { login, type LoginAnswer } from "../client/index.ts";
import { terminalJson } from "../terminal.ts";
import { CLIENT_DETAILS, CLIENT_OPTIONS, clientOptions, usingOptions } from "./client-options.ts";
import { CliError, stringOption, type Command } from "./command.ts";

const FORMATS = {
  token: (answer: LoginAnswer) => answer.accessToken,
  json: (answer: LoginAnswer) => terminalJson(answer, 2),
  // KEY=value lines for `set -a; . file`, systemd's EnvironmentFile and docker's --env-file alike: the client
  // only accepts a token and type made of characters none of them needs quoted.
  env: (answer: LoginAnswer) =>
    [
      `CERTAUTH_TOKEN=${answer.accessToken}`,
      `CERTAUTH_TOKEN_TYPE=${answer.tokenType}`,
      `CERTAUTH_TOKEN_EXPIRES_IN=${answer.expiresIn}`,
      `CERTAUTH_TOKEN_MAX_TTL=${answer.accessTokenMaxTTL}`,
    ].join("\n"),
};

export const loginCommands: Command[] = [
  {
    path: ["login"],
    summary: "Log in once with a client certificate (mutual TLS) and print the access token.",
    options: {
      ...CLIENT_OPTIONS,
      format: { type: "string", value: "<token|json|env>", description: "what to print: the token (default), the login answer, or CERTAUTH_TOKEN=… lines" },
    },
    details: `${CLIENT_DETAILS}\nA refused login exits 1 and prints the server's status, error, reason (x-certauth-reason) and message.`,
    async run(ctx) {
      const format = stringOption(ctx, "format") ?? (ctx.json ? "json" : "token");
      if (!Object.hasOwn(FORMATS, format)) throw new CliError(`--format must be token, json or env, not ${JSON.stringify(format)}`, 2);
      const options = clientOptions(ctx);
      const answer = await usingOptions(() => login(options));
      ctx.print(FORMATS[format as keyof typeof FORMATS](answer));
    },
  },
];
