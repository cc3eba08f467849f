import { CertauthError, CertauthStatusError, type ClientEvent, type ClientOptions } from "../client/index.ts";
import { TokenKeeper, type HeldToken } from "../client/keeper.ts";
import { backoffDelay } from "../client/schedule.ts";
import { createLogger, type Logger } from "../log.ts";
import { CLIENT_DETAILS, CLIENT_OPTIONS, clientOptions, usingOptions } from "./client-options.ts";
import { CliError, stringOption, type Command } from "./command.ts";
import { ExecQueue } from "./exec.ts";
import { writeSink } from "./sink.ts";

/** How often the credential files are stat'ed: catches in-place writes, renames and symlink swaps alike. */
const POLL_MS = 1000;
/** The shortest wait between two steps, whatever a server answers. */
const MIN_WAIT_MS = 1000;

interface AgentSettings {
  options: ClientOptions;
  sink?: string;
  exec?: string;
  once: boolean;
  maxBackoffMs: number;
  env: Record<string, string | undefined>;
  log: Logger;
}

function logEvent(log: Logger, event: ClientEvent): void {
  const { type, ...fields } = event;
  if (type === "renew_refused" || type === "credentials_rejected") log.warn(type, fields);
  else log.info(type, fields);
}

function failureFields(err: unknown): Record<string, unknown> {
  if (err instanceof CertauthStatusError) return { code: err.code, status: err.status, error: err.error, reason: err.reason, message: err.serverMessage, requestId: err.requestId };
  if (err instanceof CertauthError) return { code: err.code, message: err.message };
  return { message: err instanceof Error ? err.message : String(err) };
}

/**
 * Keeps a valid token in the sink (and runs --exec for each new one) until SIGTERM or SIGINT; with `once`, one
 * step. Resolves to the exit code.
 */
export async function runAgent(settings: AgentSettings): Promise<number> {
  const { log } = settings;
  const keeper = new TokenKeeper(settings.options, (event) => logEvent(log, event));
  const exec = settings.exec ? new ExecQueue(settings.exec, settings.env, log) : undefined;
  let stopping = false;
  let reread = false;
  let wake = () => {};
  let stopped!: () => void;
  const stop = new Promise<undefined>((resolve) => (stopped = () => resolve(undefined)));
  const onStop = (signal: string) => () => {
    log.info("stopping", { signal });
    stopping = true;
    stopped();
    wake();
  };
  const onTerm = onStop("SIGTERM");
  const onInt = onStop("SIGINT");
  const onHup = () => {
    log.info("reload", { signal: "SIGHUP" });
    reread = true;
    keeper.requireLogin();
    wake();
  };
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  process.on("SIGHUP", onHup);

  /** Waits `ms`, or less when the credential files move or a signal comes. */
  const pause = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (!stopping && Date.now() < deadline) {
      const slice = Math.min(POLL_MS, deadline - Date.now());
      const woken = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), slice);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      if (woken || (await keeper.credentialsMoved())) return;
    }
  };

  let published: string | undefined;
  let failures = 0;
  let code = 0;
  try {
    while (!stopping) {
      let wait: number;
      try {
        // A step under way is abandoned on SIGTERM: what it would have written is not written.
        const rereading = reread;
        reread = false;
        let held: HeldToken | undefined;
        try {
          held = await Promise.race([keeper.step(rereading), stop]);
        } catch (err) {
          // The next attempt reads the files again too.
          reread ||= rereading;
          throw err;
        }
        if (!held) break;
        if (held.answer.accessToken !== published) {
          const ran = publish(settings, held, exec);
          published = held.answer.accessToken;
          if (settings.once && !(await ran)) code = 1;
        }
        failures = 0;
        if (settings.once) break;
        // A SIGHUP that came during the step is acted on now.
        wait = reread ? 0 : Math.max(held.renewAt - Date.now(), MIN_WAIT_MS);
        log.info("waiting", { renewInMs: Number.isFinite(wait) ? Math.round(wait) : null });
      } catch (err) {
        failures++;
        if (settings.once) {
          log.error("attempt_failed", { attempt: failures, ...failureFields(err) });
          code = 1;
          break;
        }
        const asked = err instanceof CertauthStatusError && err.retryAfterSeconds !== undefined ? Math.min(err.retryAfterSeconds * 1000, settings.maxBackoffMs) : 0;
        wait = Math.max(backoffDelay(failures, settings.maxBackoffMs), asked);
        log.warn("attempt_failed", { attempt: failures, retryInMs: Math.round(wait), ...failureFields(err) });
      }
      await pause(wait);
    }
  } finally {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
    process.off("SIGHUP", onHup);
    keeper.close();
  }
  log.info("stopped", { exitCode: code });
  return code;
}

/** Writes the sink and queues --exec; a sink that cannot be written fails the step (it is tried again). */
function publish(settings: AgentSettings, held: HeldToken, exec: ExecQueue | undefined): Promise<boolean> {
  if (settings.sink) {
    writeSink(settings.sink, held.answer.accessToken);
    settings.log.info("sink_written", { path: settings.sink, via: held.via, expiresIn: held.answer.expiresIn });
  }
  return exec ? exec.run(held.answer, settings.sink) : Promise.resolve(true);
}

function seconds(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 86_400) throw new CliError(`--${name} must be a whole number of seconds from 1 to 86400`, 2);
  return Number(value);
}

export const agentCommands: Command[] = [
  {
    path: ["agent"],
    summary: "Keep a valid access token in a file (and/or hand each new one to a command), renewing and logging in again as needed.",
    options: {
      ...CLIENT_OPTIONS,
      sink: { type: "string", value: "<file>", description: "write the token here (atomically, mode 0600) each time it changes" },
      exec: { type: "string", value: "<command>", description: "run this with /bin/sh after each new token, the token in CERTAUTH_TOKEN" },
      once: { type: "boolean", description: "log in once, write the sink, run --exec, and exit (non-zero on failure)" },
      "max-backoff": { type: "string", value: "<seconds>", description: "the longest wait between attempts when the server is unreachable (default 60)" },
    },
    details: [
      CLIENT_DETAILS,
      "Renews at about two thirds of the token's life; logs in again when a renewal is refused or no longer extends the token,",
      "when the certificate or key files change (checked every second) and on SIGHUP. Logs one JSON line per event on",
      "standard error, never the token. SIGTERM or SIGINT: exit 0; the sink holds the last complete token.",
    ].join("\n"),
    async run(ctx) {
      const sink = stringOption(ctx, "sink");
      const exec = stringOption(ctx, "exec");
      if (sink === undefined && exec === undefined) throw new CliError("--sink or --exec is required", 2);
      const maxBackoffMs = seconds(stringOption(ctx, "max-backoff"), "max-backoff", 60) * 1000;
      const options = clientOptions(ctx);
      const log = createLogger("info", ctx.printError, "json");
      return usingOptions(() => runAgent({ options, sink, exec, once: ctx.values.once === true, maxBackoffMs, env: ctx.env, log }));
    },
  },
];
