/**
 * The service as its own process on Bun, Deno or Node, and nginx in front of it: what a deployment runs,
 * started from the project's own entries and binaries (node_modules/.bin), stopped with SIGTERM.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { makeSelfSignedServerCert } from "../../src/tls/self-signed.ts";
import { createTestDatabase, postgresReachable, type TestDatabase } from "./databases.ts";
import { call, type CallOptions } from "./https.ts";
import { freePort } from "./ports.ts";
import { ADMIN_TOKEN } from "./service.ts";

export type Runtime = "bun" | "deno" | "node";
export const RUNTIMES: readonly Runtime[] = ["bun", "deno", "node"];

const ROOT = resolve(import.meta.dir, "../..");
const BIN = join(ROOT, "node_modules/.bin");
const READY_TIMEOUT_MS = 90_000;

/** The command line each runtime's entry is started with: `npm start`'s for Bun, deno.json's `start` task for Deno. */
export function commandFor(runtime: Runtime): string[] {
  switch (runtime) {
    case "bun": {
      // Exactly what `npm start` runs.
      const [, ...args] = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.start as string).split(/\s+/);
      return [join(BIN, "bun"), ...args];
    }
    case "node":
      // tsx as a loader keeps the service in one process, so SIGTERM reaches it directly.
      return ["node", "--import", "tsx", "src/server/node.ts"];
    case "deno": {
      const tasks = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")).tasks;
      const task = tasks.start as string | { command: string };
      return (typeof task === "string" ? task : task.command).split(/\s+/);
    }
  }
}

/** Children still running (bun test runs no exit handlers, so suites call stopAllProcesses in afterAll). */
const running = new Set<Child>();

/** Stops every service and nginx this file started and has not stopped yet, e.g. after a failed beforeAll. */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...running].map(stopChild));
}

/** Runs every start to its end before failing, so that afterAll finds all of them to stop. */
export async function startAll<T>(starts: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(starts);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

interface Child {
  process: ChildProcess;
  /** The exit code, once the child has exited and its temp folder and database are gone. */
  exited: Promise<number | null>;
  output(): string;
}

/** Spawns `argv`; once it has exited, its temp folder `workDir` is removed and `cleanup` runs. */
function launch(argv: string[], env: Record<string, string>, workDir: string, cleanup?: () => Promise<void>): Child {
  const [file, ...args] = argv as [string, ...string[]];
  const child = spawn(file, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const processExited = new Promise<number | null>((done) => {
    child.once("exit", (code, signal) => done(code ?? (signal ? 128 : null)));
    child.once("error", (err) => {
      output += `\nspawn failed: ${err.message}`;
      done(null);
    });
  });
  const exited = processExited.then(async (code) => {
    running.delete(handle);
    rmSync(workDir, { recursive: true, force: true });
    await cleanup?.().catch(() => {});
    return code;
  });
  const handle: Child = { process: child, exited, output: () => output };
  running.add(handle);
  return handle;
}

async function stopChild(child: Child): Promise<number | null> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGTERM");
  const timer = setTimeout(() => child.process.kill("SIGKILL"), 10_000);
  const code = await child.exited;
  clearTimeout(timer);
  return code;
}

export interface ServiceProcess {
  runtime: Runtime;
  pid: number;
  url: string;
  port: number;
  dataDir: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  call(path: string, options?: CallOptions): ReturnType<typeof call>;
  admin(path: string, options?: CallOptions): ReturnType<typeof call>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * A database of the process's own: on the PostgreSQL the machine runs when it answers (it starts in a
 * second, where PGlite's WebAssembly takes many on a loaded 2-core machine), else in-memory PGlite.
 */
async function processDatabase(): Promise<TestDatabase> {
  return createTestDatabase((await postgresReachable()) ? "postgres" : "pglite");
}

/** Starts the service on `runtime` and resolves once /api/status answers over HTTPS. */
export async function startServiceProcess(runtime: Runtime, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const host = env.HOST ?? "127.0.0.1";
  const port = await freePort(host);
  const dataDir = mkdtempSync(join(tmpdir(), `certauth-${runtime}-`));
  // DATABASE_URL set by the caller, even to "" (the embedded database in DATA_DIR), is the caller's.
  const database = env.DATABASE_URL !== undefined ? undefined : await processDatabase();
  const child = launch(
    commandFor(runtime),
    { DATA_DIR: dataDir, DATABASE_URL: database?.url ?? "", ADMIN_TOKEN, LOG_LEVEL: "warn", ...env, HOST: host, PORT: String(port) },
    dataDir,
    database?.drop,
  );
  const url = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const fail = async (why: string): Promise<never> => {
    await stopChild(child);
    throw new Error(`${runtime} service ${why}; its output:\n${child.output()}`);
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exitedEarly = false;
  void child.exited.then(() => (exitedEarly = true));
  for (;;) {
    if (exitedEarly) return fail("exited before answering /api/status");
    if (Date.now() > deadline) return fail(`did not answer /api/status within ${READY_TIMEOUT_MS / 1000} s`);
    const status = await call(url, "/api/status").catch(() => null);
    if (status?.status === 200) break;
    await Bun.sleep(150);
  }
  return {
    runtime,
    pid: child.process.pid!,
    url,
    port,
    dataDir,
    output: child.output,
    call: (path, options) => call(url, path, options),
    admin: (path, options = {}) =>
      call(url, path, { ...options, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(options.headers ?? {}) } }),
    stop: () => stopChild(child),
  };
}

/** The nginx binary, or null; under CI=true its absence is an error, by hand a visible skip. */
export function nginxBinary(): string | null {
  for (const candidate of ["nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"]) {
    if (spawnSync(candidate, ["-v"], { stdio: "ignore" }).status === 0) return candidate;
  }
  if (process.env.CI === "true") throw new Error("nginx is not installed, and CI requires it (.ci/run installs it)");
  console.warn("\n*** SKIPPING the nginx tests: nginx is not installed (apt-get install nginx) ***\n");
  return null;
}

export interface NginxOptions {
  /** https://host:port of the service. */
  upstream: string;
  /** Source address nginx connects to the service from (proxy_bind). */
  proxyBind?: string;
  /** Header that carries $ssl_client_escaped_cert. */
  certHeader?: string;
}

export interface NginxProcess {
  url: string;
  port: number;
  output(): string;
  stop(): Promise<number | null>;
}

/** nginx terminating mTLS (any client CA) and forwarding the client certificate URL-encoded in a header. */
export async function startNginx(binary: string, options: NginxOptions): Promise<NginxProcess> {
  const dir = mkdtempSync(join(tmpdir(), "certauth-nginx-"));
  // Workers run as an unprivileged user when nginx starts as root; they must reach the temp paths.
  chmodSync(dir, 0o755);
  for (const sub of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, sub));
  const { certPem, keyPem } = await makeSelfSignedServerCert();
  writeFileSync(join(dir, "server.crt"), certPem);
  writeFileSync(join(dir, "server.key"), keyPem, { mode: 0o600 });
  const port = await freePort();
  const header = options.certHeader ?? "X-Identity-Tls-Cert-Auth-Client-Cert";
  const conf = `
daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${dir}/server.crt;
    ssl_certificate_key ${dir}/server.key;
    ssl_verify_client optional_no_ca;
    location / {
      proxy_pass ${options.upstream};
      proxy_ssl_verify off;
      ${options.proxyBind ? `proxy_bind ${options.proxyBind};` : ""}
      proxy_set_header ${header} $ssl_client_escaped_cert;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`;
  writeFileSync(join(dir, "nginx.conf"), conf);
  const child = launch([binary, "-e", join(dir, "error.log"), "-p", dir, "-c", join(dir, "nginx.conf")], {}, dir);
  const url = `https://127.0.0.1:${port}`;
  const output = () => {
    let log = "";
    try {
      log = readFileSync(join(dir, "error.log"), "utf8");
    } catch {}
    return `${child.output()}\n${log}`;
  };
  const stop = () => stopChild(child);
  const deadline = Date.now() + 15_000;
  let exitedEarly = false;
  void child.exited.then(() => (exitedEarly = true));
  for (;;) {
    if (exitedEarly || Date.now() > deadline) {
      const log = output();
      await stop();
      throw new Error(`nginx did not start; its output:\n${log}`);
    }
    if (await call(url, "/api/status").then((r) => r.status === 200, () => false)) break;
    await Bun.sleep(100);
  }
  return { url, port, output, stop };
}

/** The peak resident set size of a running process (VmHWM in /proc/<pid>/status, Linux), in MiB. */
export function peakRssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmHWM:\s+(\d+) kB$/m);
  if (!line) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(line[1]) / 1024;
}
