import { runService } from "../server/main.ts";
import { hostRuntime } from "../server/runtime.ts";
import { output, stringOption, withDatabase, type Command, type CommandContext } from "./command.ts";

function envWith(ctx: CommandContext, names: Record<string, string>): Record<string, string | undefined> {
  const env = { ...ctx.env };
  for (const [option, variable] of Object.entries(names)) {
    const value = stringOption(ctx, option);
    if (value !== undefined) env[variable] = value;
  }
  return env;
}

export const serveCommands: Command[] = [
  {
    path: ["serve"],
    summary: "Run the service (HTTPS with mutual TLS) until SIGTERM or Ctrl-C.",
    options: {
      port: { type: "string", value: "<port>", description: "overrides PORT (default 8443)" },
      host: { type: "string", value: "<host>", description: "overrides HOST (default 0.0.0.0)" },
      "data-dir": { type: "string", value: "<dir>", description: "overrides DATA_DIR (default ./data)" },
    },
    details: "Every other setting comes from the environment (PORT, DATABASE_URL, TLS_CERT_FILE, ADMIN_TOKEN, …).",
    async run(ctx) {
      await runService(hostRuntime(), envWith(ctx, { port: "PORT", host: "HOST", "data-dir": "DATA_DIR" }));
      // Serving: the signal handler ends the process.
      await new Promise(() => {});
    },
  },
  {
    path: ["migrate"],
    summary: "Apply the database migrations and exit (serve also applies them on start).",
    async run(ctx) {
      const driver = await withDatabase(ctx.env, async (database) => database.driver);
      output(ctx, { migrated: true, driver }, () => `Database is up to date (${driver})`);
    },
  },
];
