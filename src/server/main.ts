import type { Listening, Runtime } from "../adapters/serve.ts";
import { ConfigError } from "../config.ts";
import { bootstrap, type Service } from "./bootstrap.ts";
import { ownerOnlyUmask } from "./data-dir.ts";
import { startServer } from "./listener.ts";

/** How long requests in flight get to finish after SIGTERM/SIGINT before the process exits anyway. */
export const SHUTDOWN_GRACE_MS = 10_000;

/** The process entry every runtime shares: one clear line and a non-zero exit on bad configuration. */
export async function runService(runtime: Runtime, env: Record<string, string | undefined> = process.env): Promise<void> {
  ownerOnlyUmask();
  let service: Service;
  try {
    service = await bootstrap(env);
  } catch (err) {
    console.error(`certauth: ${err instanceof ConfigError ? err.message : `cannot start: ${(err as Error).message}`}`);
    process.exit(1);
  }
  const server = await listen(runtime, service);
  stopOnSignal(service, server);
}

/** Starts the listener on the configured address; on failure, closes the database and exits 1. */
export async function listen(runtime: Runtime, service: Service): Promise<Listening> {
  const { config, log, database } = service;
  let server: Listening;
  try {
    server = await startServer(runtime, service);
  } catch (err) {
    console.error(`certauth: cannot listen on ${config.HOST}:${config.PORT}: ${(err as Error).message}`);
    await database.close();
    process.exit(1);
  }
  log.info("listening", { runtime: runtime.name, url: `https://${config.HOST}:${server.port}`, database: database.driver });
  console.error(`certauth: listening on https://${config.HOST === "0.0.0.0" ? "localhost" : config.HOST}:${server.port} (${runtime.name}, ${database.driver})`);
  return server;
}

/**
 * SIGTERM/SIGINT: stop accepting, let requests in flight finish (at most SHUTDOWN_GRACE_MS), close the
 * database, exit 0. A second signal exits at once.
 */
export function stopOnSignal(service: Service, server: Listening): void {
  const { log, database } = service;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      console.error(`certauth: ${signal} again, exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    log.info("shutting down", { signal, graceMs: SHUTDOWN_GRACE_MS });
    let code = 0;
    const drained = await settleWithin(server.close(), SHUTDOWN_GRACE_MS);
    if (drained === "timeout") log.warn("requests still in flight after the grace period; exiting anyway");
    if (drained === "failed") code = 1;
    await service.crlRefresher.stop();
    if ((await settleWithin(database.close(), 5000)) !== "done") code = 1;
    log.info("stopped", { code });
    process.exit(code);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

function settleWithin(promise: Promise<unknown>, ms: number): Promise<"done" | "failed" | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
  return Promise.race([promise.then(() => "done" as const, () => "failed" as const), timeout]).finally(() => clearTimeout(timer));
}
