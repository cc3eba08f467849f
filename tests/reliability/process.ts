/**
 * The service on Bun as its own process, with what the fault and soak runs need beyond tests/helpers/processes.ts:
 * its pid (SIGKILL, /proc/<pid>/status and fd), a DATA_DIR that outlives it (restart on the same folder), and
 * the full environment under the caller's control (no DATABASE_URL = embedded PGlite on disk).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { call, type CallOptions } from "../helpers/https.ts";
import { ADMIN_TOKEN } from "../helpers/service.ts";
import { freePort } from "../helpers/ports.ts";
import { commandFor } from "../helpers/processes.ts";

/** Exactly what `npm start` runs. */
const bunCommand = commandFor("bun");

const ROOT = resolve(import.meta.dir, "../..");


export interface BunService {
  pid: number;
  port: number;
  url: string;
  output(): string;
  call(path: string, options?: CallOptions): ReturnType<typeof call>;
  admin(path: string, options?: CallOptions): ReturnType<typeof call>;
  kill(signal: NodeJS.Signals): void;
  /** Resolves with the exit code (128 + n for a signal). */
  exited: Promise<number>;
  /** Resident set size in KiB, from /proc. */
  rssKiB(): number;
  openFds(): number;
}

/** Starts `bun src/server/bun.ts` with exactly these variables (plus PATH/HOME) and waits for /api/status. */
export async function startBunService(env: Record<string, string>, options: { port?: number; readyTimeoutMs?: number } = {}): Promise<BunService> {
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn(bunCommand[0]!, bunCommand.slice(1), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ADMIN_TOKEN, HOST: "127.0.0.1", ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number>((done) => child.once("exit", (code, signal) => done(code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 0))));
  let gone = false;
  void exited.then(() => (gone = true));
  const url = `https://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (gone) throw new Error(`bun service exited before answering; its output:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`bun service did not answer /api/status in time; its output:\n${output}`);
    }
    const status = await call(url, "/api/status").catch(() => null);
    if (status?.status === 200) break;
    await Bun.sleep(150);
  }
  const pid = child.pid!;
  return {
    pid,
    port,
    url,
    output: () => output,
    call: (path, o) => call(url, path, o),
    admin: (path, o = {}) => call(url, path, { ...o, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(o.headers ?? {}) } }),
    kill: (signal) => void child.kill(signal),
    exited,
    rssKiB: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0),
    openFds: () => readdirSync(`/proc/${pid}/fd`).length,
  };
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopBunService(svc: BunService, graceMs = 10_000): Promise<number> {
  svc.kill("SIGTERM");
  const timer = setTimeout(() => svc.kill("SIGKILL"), graceMs);
  const code = await svc.exited;
  clearTimeout(timer);
  return code;
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return ({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 } as Record<string, number>)[signal];
}
