/** Child processes of the benchmark: servers started and stopped by pid, load workers, /proc readings. */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { WorkerJob, WorkerResult } from "./load-worker.ts";
import type { BenchPki } from "./pki.ts";
import { freePort } from "../tests/helpers/ports.ts";

export const ROOT = resolve(import.meta.dir, "..");
export const BUN = join(ROOT, "node_modules/.bin/bun");
export type Runtime = "bun" | "node";

/** How a runtime runs a .ts entry as one process (so /proc/<pid> is the server itself). */
export function runtimeCommand(runtime: Runtime, entry: string): string[] {
  return runtime === "bun" ? [BUN, entry] : ["node", "--import", "tsx", entry];
}

const CLOCK_TICKS = 100;

/** utime + stime of a process, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** Minor page faults of a process so far (memory it touched for the first time, or again after giving it back). */
export function minorFaults(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
}

/**
 * What one page fault costs on this machine, in µs: fresh anonymous memory touched a page at a time. Bare metal
 * takes well under 1 µs; some virtual machines take 10 µs, which makes any allocator churn show in CPU figures.
 */
export function pageFaultMicros(): number {
  const bytes = 128 * 2 ** 20;
  const start = performance.now();
  const memory = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) memory[i] = 1;
  return ((performance.now() - start) * 1000) / (bytes / 4096);
}

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

export function loadAverage(): number[] {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);
}


export interface Server {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

const started = new Set<ChildProcess>();

/** Starts `argv` and resolves once its stderr matches `ready`; the log of a failed start is in the error. */
export async function startServer(argv: string[], env: Record<string, string>, ready: RegExp, timeoutMs = 60_000): Promise<Server> {
  const port = await freePort();
  const [file, ...args] = argv as [string, ...string[]];
  const child = spawn(file, args, { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: ["ignore", "ignore", "pipe"] });
  started.add(child);
  let log = "";
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`${argv.join(" ")} not ready after ${timeoutMs} ms:\n${log}`)), timeoutMs);
    child.stderr!.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      if (ready.test(log)) {
        clearTimeout(timer);
        done();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`${argv.join(" ")} exited with ${code}:\n${log}`));
    });
  });
  child.stderr!.resume();
  return {
    pid: child.pid!,
    port,
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  started.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(kill);
      done();
    });
    child.kill("SIGTERM");
  });
}

export async function stopAll(): Promise<void> {
  await Promise.all([...started].map(stopChild));
}

/** Runs `workers` load-worker processes on Bun, splitting the connections, and merges their results. */
export async function runLoad(job: WorkerJob, workers: number): Promise<WorkerResult & { workers: number }> {
  const per = Array.from({ length: workers }, (_, i) => Math.floor(job.connections / workers) + (i < job.connections % workers ? 1 : 0)).filter((n) => n > 0);
  const results = await Promise.all(
    per.map(
      (connections) =>
        new Promise<WorkerResult>((done, fail) => {
          const child = spawn(BUN, [join(ROOT, "bench/load-worker.ts"), JSON.stringify({ ...job, connections, maxRequests: Math.ceil(job.maxRequests / per.length) })], {
            cwd: ROOT,
            stdio: ["ignore", "pipe", "inherit"],
          });
          let out = "";
          child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
          // "close", not "exit": the result line may still be in the pipe when the process exits.
          child.once("close", (code) => (code === 0 ? done(JSON.parse(out)) : fail(new Error(`load worker exited with ${code}`))));
        }),
    ),
  );
  const statuses: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  return {
    workers: per.length,
    requests: results.reduce((s, r) => s + r.requests, 0),
    statuses,
    socketErrors: results.reduce((s, r) => s + r.socketErrors, 0),
    elapsedMs: Math.max(...results.map((r) => r.elapsedMs)),
    latenciesUs: results.flatMap((r) => r.latenciesUs),
    cpuMs: results.reduce((s, r) => s + r.cpuMs, 0),
  };
}

/** The environment a benchmarked service starts with (besides where its database is): TLS, fixed secrets, no rate limit. */
export function serviceEnv(pki: BenchPki, logLevel: string): Record<string, string> {
  return {
    HOST: "127.0.0.1",
    TLS_CERT_FILE: pki.serverCertFile,
    TLS_KEY_FILE: pki.serverKeyFile,
    ADMIN_TOKEN: "bench-admin-token-0123456789abcdefghijklmnop",
    KEY_ENCRYPTION_KEY: "bench-key-encryption-key-0123456789abcdef",
    LOGIN_RATE_LIMIT: "0",
    LOG_LEVEL: logLevel,
  };
}
