/**
 * The client suites' world: a real certauth server in this process (Bun listener, real mutual TLS) that can be
 * stopped and started again on the same port, DATA_DIR and database; identities with short token lifetimes;
 * certificate files on disk; and `certauth agent` as its own process, its JSON log lines parsed as they come.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bun } from "../../src/adapters/bun/index.ts";
import type { Listening } from "../../src/adapters/serve.ts";
import { bootstrap, type Service } from "../../src/server/bootstrap.ts";
import { startServer } from "../../src/server/listener.ts";
import { makeSelfSignedServerCert } from "../../src/tls/self-signed.ts";
import { makeCa, makeLeaf, type Issued } from "../fixtures/pki.ts";
import { createPostgresDatabase, postgresReachable, type TestDatabase } from "../helpers/databases.ts";
import { call, type CallOptions } from "../helpers/https.ts";
import { ADMIN_TOKEN } from "../helpers/service.ts";

export const ROOT = resolve(import.meta.dir, "../..");

export interface Certauth {
  url: string;
  port: number;
  /** The server's generated certificate: the client's --ca. */
  caFile: string;
  admin(path: string, options?: CallOptions): ReturnType<typeof call>;
  /** Stops listening and closes the database; start() brings it back on the same port, DATA_DIR and database. */
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * On the PostgreSQL the machine runs when it answers, else on the embedded PGlite in DATA_DIR: either way the
 * state survives a stop and start.
 */
export async function startCertauth(): Promise<Certauth> {
  const database: TestDatabase | undefined = (await postgresReachable()) ? await createPostgresDatabase() : undefined;
  if (!database && process.env.CI === "true") throw new Error("PostgreSQL is not reachable, and CI requires it");
  const dataDir = mkdtempSync(join(tmpdir(), "certauth-client-"));
  const env = { DATA_DIR: dataDir, DATABASE_URL: database?.url, ADMIN_TOKEN, LOG_LEVEL: "silent", HOST: "127.0.0.1" };
  let service: Service | undefined;
  let listening: Listening | undefined;
  let port = 0;
  const start = async () => {
    service = await bootstrap(env, () => {});
    listening = await startServer(bun, service, port, "127.0.0.1");
    port = listening.port;
  };
  const stop = async () => {
    await listening?.close();
    await service?.crlRefresher.stop();
    await service?.database.close();
    listening = undefined;
    service = undefined;
  };
  await start();
  const url = `https://127.0.0.1:${port}`;
  return {
    url,
    port,
    caFile: join(dataDir, "server.crt"),
    admin: (path, options = {}) => call(url, path, { ...options, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(options.headers ?? {}) } }),
    stop,
    start,
    async dispose() {
      await stop();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An HTTPS server answering every request with `respond`; the client trusts its certificate. */
export async function fakeServer(respond: (res: ServerResponse) => void): Promise<{ url: string; ca: string; server: HttpsServer }> {
  const { certPem, keyPem } = await makeSelfSignedServerCert();
  const https = createHttpsServer({ cert: certPem, key: keyPem }, (req, res) => {
    req.resume();
    respond(res);
  });
  await new Promise<void>((done) => https.listen(0, "127.0.0.1", done));
  const { port } = https.address() as { port: number };
  return { url: `https://127.0.0.1:${port}`, ca: certPem, server: https };
}

export interface Lifetimes {
  accessTokenTTL: number;
  accessTokenMaxTTL: number;
}

/** A CA, an organization, and `make(name)`: an identity whose TLS cert auth trusts that CA, with these lifetimes. */
export async function provisioner(server: Certauth) {
  const ca = await makeCa({ subject: "CN=Client Suite CA" });
  const org = await server.admin("/api/v1/organizations", { body: { name: "Clients", slug: `clients-${Math.random().toString(36).slice(2, 8)}` } });
  if (org.status !== 200) throw new Error(`create organization: ${org.status} ${org.text}`);
  const orgId: string = org.json.organization.id;
  return {
    ca,
    async identity(name: string, lifetimes: Lifetimes): Promise<string> {
      const identity = await server.admin("/api/v1/identities", { body: { name, organizationId: orgId } });
      if (identity.status !== 200) throw new Error(`create identity: ${identity.status} ${identity.text}`);
      const id: string = identity.json.identity.id;
      await attach(server, id, ca, lifetimes);
      return id;
    },
    leaf: (cn: string) => makeLeaf({ issuer: ca, cn }),
  };
}

export async function attach(server: Certauth, identityId: string, ca: Issued, lifetimes: Lifetimes): Promise<void> {
  const res = await server.admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, { body: { caCertificate: ca.pem, ...lifetimes } });
  if (res.status !== 200) throw new Error(`attach: ${res.status} ${res.text}`);
}

export const fingerprintOf = (leaf: Issued) => createHash("sha256").update(leaf.der).digest("hex");

/** The newest successful login's audit event of an identity. */
export async function lastLogin(server: Certauth, identityId: string): Promise<{ certificateFingerprint: string; createdAt: string } | undefined> {
  const res = await server.admin(`/api/v1/audit-logs?identityId=${identityId}&eventType=login-identity-tls-cert-auth&limit=1`);
  return res.json.auditLogs[0];
}

/** Writes the certificate and key of `leaf` to `certFile` and `keyFile`, the key first (owner-only). */
export function writeCredentials(leaf: Issued, certFile: string, keyFile: string): void {
  writeFileSync(keyFile, leaf.keyPem, { mode: 0o600 });
  writeFileSync(certFile, leaf.pem);
}

/** Polls `probe` until it answers something other than undefined. */
export async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

export interface LogEvent {
  msg: string;
  level: string;
  time: string;
  [field: string]: unknown;
}

export interface AgentProcess {
  child: ChildProcess;
  events: LogEvent[];
  /** Everything it wrote that is not a JSON log line. */
  other(): string;
  /** Waits for the `n`th event (counting from 1) matching `match`; the timeout error lists what came. */
  waitFor(match: (e: LogEvent) => boolean, what: string, n?: number, timeoutMs?: number): Promise<LogEvent>;
  count(match: (e: LogEvent) => boolean): number;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  exited: Promise<number | null>;
}

/** `certauth agent <args>` on Bun from the source tree, as `npx certauth` runs it. */
export function startAgent(args: string[], env: Record<string, string> = {}): AgentProcess {
  const child = spawn(process.execPath, [join(ROOT, "src/cli/main.ts"), "agent", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: LogEvent[] = [];
  let other = "";
  let partial = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      try {
        events.push(JSON.parse(line));
      } catch {
        other += `${line}\n`;
      }
    }
  });
  child.stdout!.on("data", (chunk: Buffer) => (other += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const agent: AgentProcess = {
    child,
    events,
    other: () => other,
    count: (match) => events.filter(match).length,
    async waitFor(match, what, n = 1, timeoutMs = 45_000) {
      try {
        return await eventually(what, () => events.filter(match)[n - 1] ?? (child.exitCode !== null ? null : undefined), timeoutMs).then((e) => {
          if (e === null) throw new Error(`the agent exited (${child.exitCode}) before ${what}`);
          return e;
        });
      } catch (err) {
        throw new Error(`${(err as Error).message}\nevents:\n${events.map((e) => JSON.stringify(e)).join("\n")}\n${other}`);
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    exited,
  };
  return agent;
}
