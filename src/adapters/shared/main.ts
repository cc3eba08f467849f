import { ConfigError } from "../../config.ts";
import { bootstrap, type Service } from "./bootstrap.ts";

type Started = { port: number; close: () => Promise<void> };

/** The process entry every runtime shares: one clear line and a non-zero exit on bad configuration. */
export async function runService(
  runtime: string,
  start: (service: Service, port: number, host: string) => Promise<Started>,
): Promise<void> {
  let service: Service;
  try {
    service = await bootstrap(process.env);
  } catch (err) {
    console.error(`certauth: ${err instanceof ConfigError ? err.message : `cannot start: ${(err as Error).message}`}`);
    process.exit(1);
  }
  const { config, log, database } = service;
  let server: Started;
  try {
    server = await start(service, config.PORT, config.HOST);
  } catch (err) {
    console.error(`certauth: cannot listen on ${config.HOST}:${config.PORT}: ${(err as Error).message}`);
    await database.close();
    process.exit(1);
  }
  log.info("listening", { runtime, url: `https://${config.HOST}:${server.port}`, database: database.driver });
  console.error(`certauth: listening on https://${config.HOST === "0.0.0.0" ? "localhost" : config.HOST}:${server.port} (${runtime}, ${database.driver})`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down");
    await server.close();
    await database.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
