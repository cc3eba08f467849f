/** Starts the real service in-process on the Bun listener (real HTTPS on an ephemeral port) for a test file. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrap, type Service } from "../../src/server/bootstrap.ts";
import { bun } from "../../src/adapters/bun/index.ts";
import { startServer } from "../../src/server/listener.ts";
import { createTestDatabase, type TestDatabase } from "./databases.ts";
import { call, type CallOptions } from "./https.ts";

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdefghijklmnop";

export interface RunningService {
  url: string;
  port: number;
  service: Service;
  database: TestDatabase;
  dataDir: string;
  /** Calls the service with the admin token. */
  admin(path: string, options?: CallOptions): ReturnType<typeof call>;
  call(path: string, options?: CallOptions): ReturnType<typeof call>;
  stop(): Promise<void>;
}

export async function startService(
  driver: TestDatabase["name"],
  env: Record<string, string> = {},
  database?: TestDatabase,
): Promise<RunningService> {
  const db = database ?? (await createTestDatabase(driver));
  // A test that restarts on the same DATA_DIR passes it, and removes it itself.
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), "certauth-test-"));
  const service = await bootstrap(
    { DATA_DIR: dataDir, ...(db.url ? { DATABASE_URL: db.url } : {}), ADMIN_TOKEN, LOG_LEVEL: "silent", HOST: "127.0.0.1", ...env },
    () => {},
  );
  // A test that needs its URL before the start (ISSUER_URL) passes the port it reserved as PORT.
  const server = await startServer(bun, service, env.PORT ? Number(env.PORT) : 0, "127.0.0.1");
  const url = `https://127.0.0.1:${server.port}`;
  return {
    url,
    port: server.port,
    service,
    database: db,
    dataDir,
    admin: (path, options = {}) =>
      call(url, path, { ...options, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(options.headers ?? {}) } }),
    call: (path, options) => call(url, path, options),
    async stop() {
      await server.close();
      await service.crlRefresher.stop();
      await service.database.close();
      if (!database) await db.drop();
      if (!env.DATA_DIR) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
