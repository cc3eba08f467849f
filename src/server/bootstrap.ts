import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createApp, type App } from "../app.ts";
import { issuerUrl, loadConfig, type Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import { openConfiguredDatabase } from "./local-database.ts";
import { ownDataDir } from "./data-dir.ts";
import { createLogger, type Logger } from "../log.ts";
import { makeSelfSignedServerCert } from "../tls/self-signed.ts";
import { ensureAdminToken } from "../admin/admin-token.ts";
import { KeyEncryption, KeyStore } from "../tokens/key-store.ts";
import { createSigner, type TokenSigner } from "../tokens/signer.ts";
import { retireOtherAlgorithms } from "../tokens/rotate.ts";
import { nodeSign } from "../adapters/node-sign.ts";
import type { TlsMaterial } from "../adapters/serve.ts";
import { Metrics } from "../metrics/registry.ts";
import { crlSourceFor, fillUploadedCrlsNextUpdate } from "../revocation/crls.ts";
import { CrlRefresher } from "../revocation/refresher.ts";

export interface Service {
  app: App;
  config: Config;
  database: Database;
  log: Logger;
  tls: TlsMaterial;
  /** Token signing keys; `signer.rotate` is key rotation. */
  signer: TokenSigner;
  /** Fetches CRL URLs again when due; started here, stopped before the database closes. */
  crlRefresher: CrlRefresher;
}

/** Reads the configuration and files, opens and migrates the database, and builds the app. */
export async function bootstrap(env: Record<string, string | undefined>, out: (line: string) => void = console.error): Promise<Service> {
  const config = loadConfig(env);
  const log = createLogger(config.LOG_LEVEL);
  ownDataDir(config.DATA_DIR);
  const database = await openConfiguredDatabase(config);
  try {
    const adminTokenHash = await ensureAdminToken(database.db, config.ADMIN_TOKEN, (token) => {
      const file = join(config.DATA_DIR, "admin-token");
      writeFileSync(file, `${token}\n`, { mode: 0o600 });
      chmodSync(file, 0o600);
      out(`certauth: generated an admin token (shown once, also written to ${file}):\n${token}`);
    });
    const tls = await loadTls(config, out);
    const clock = () => new Date();
    const keys = new KeyStore(database.db, await KeyEncryption.fromSecret(keyEncryptionKey(config)));
    const signer = await createSigner({
      alg: config.TOKEN_SIGNING_ALG,
      keys,
      authSecret: config.AUTH_SECRET,
      clock,
      nativeSign: nodeSign,
      issuer: issuerUrl(config),
      verifyIssuer: config.ISSUER_URL !== undefined,
      maxTokenTtl: config.MAX_TOKEN_TTL,
    });
    const retired = await retireOtherAlgorithms(keys, config.TOKEN_SIGNING_ALG, config.MAX_TOKEN_TTL, clock());
    if (retired.length > 0) log.info("retired the signing keys of another algorithm", { kids: retired, alg: config.TOKEN_SIGNING_ALG });
    const metrics = new Metrics();
    const crlSource = crlSourceFor(config, metrics);
    const filled = await fillUploadedCrlsNextUpdate(database.db, crlSource.decode, log);
    if (filled > 0) log.info("read the nextUpdate of uploaded CRLs stored before it was kept", { configurations: filled });
    const app = createApp({ config, database, log, clock, adminTokenHash, signer, metrics, crlSource });
    const crlRefresher = new CrlRefresher(database.db, crlSource, log);
    crlRefresher.start();
    return { app, config, database, log, tls, signer, crlRefresher };
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
}

/** KEY_ENCRYPTION_KEY, or a random one kept in DATA_DIR (mode 0600) for a single instance. */
export function keyEncryptionKey(config: Config): string {
  if (config.KEY_ENCRYPTION_KEY) return config.KEY_ENCRYPTION_KEY;
  const file = join(config.DATA_DIR, "key-encryption-key");
  if (!existsSync(file)) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    writeFileSync(file, `${Buffer.from(bytes).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
  }
  return readFileSync(file, "utf8").trim();
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
    writeFileSync(certFile, certPem, { mode: 0o600 });
    out(`certauth: generated a self-signed server certificate for localhost: ${certFile}`);
  }
  return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8"), clientCa };
}
