import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createApp, type App } from "../../app.ts";
import { loadConfig, type Config } from "../../config.ts";
import { openDatabase, type Database } from "../../db/client.ts";
import { createLogger, type Logger } from "../../log.ts";
import { makeSelfSignedServerCert } from "../../tls/self-signed.ts";
import { ensureAdminToken } from "../../admin/admin-token.ts";

export interface TlsMaterial {
  cert: string;
  key: string;
  /** PEM bundle from TLS_CLIENT_CA_FILE: when set, the handshake requires a client certificate chaining to it. */
  clientCa?: string;
}

export interface Service {
  app: App;
  config: Config;
  database: Database;
  log: Logger;
  tls: TlsMaterial;
}

/** Reads the configuration and files, opens and migrates the database, and builds the app. */
export async function bootstrap(env: Record<string, string | undefined>, out: (line: string) => void = console.error): Promise<Service> {
  const config = loadConfig(env);
  const log = createLogger(config.LOG_LEVEL);
  mkdirSync(config.DATA_DIR, { recursive: true, mode: 0o700 });
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    const adminTokenHash = await ensureAdminToken(database.db, config.ADMIN_TOKEN, (token) => {
      const file = join(config.DATA_DIR, "admin-token");
      writeFileSync(file, `${token}\n`, { mode: 0o600 });
      chmodSync(file, 0o600);
      out(`certauth: generated an admin token (shown once, also written to ${file}):\n${token}`);
    });
    const tls = await loadTls(config, out);
    const app = createApp({ config, database, log, clock: () => new Date(), adminTokenHash });
    return { app, config, database, log, tls };
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
}

async function loadTls(config: Config, out: (line: string) => void): Promise<TlsMaterial> {
  const clientCa = config.TLS_CLIENT_CA_FILE ? readFileSync(config.TLS_CLIENT_CA_FILE, "utf8") : undefined;
  if (config.TLS_CERT_FILE && config.TLS_KEY_FILE) {
    return { cert: readFileSync(config.TLS_CERT_FILE, "utf8"), key: readFileSync(config.TLS_KEY_FILE, "utf8"), clientCa };
  }
  const certFile = join(config.DATA_DIR, "server.crt");
  const keyFile = join(config.DATA_DIR, "server.key");
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const { certPem, keyPem } = await makeSelfSignedServerCert();
    writeFileSync(keyFile, keyPem, { mode: 0o600 });
    writeFileSync(certFile, certPem, { mode: 0o644 });
    out(`certauth: generated a self-signed server certificate for localhost: ${certFile}`);
  }
  return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8"), clientCa };
}
