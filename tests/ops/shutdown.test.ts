/** SIGTERM on a running `certauth serve`: no new connections, requests in flight finish, exit code 0. */
import { afterAll, describe, expect, it } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../helpers/ports.ts";
import { ADMIN_TOKEN } from "./support.ts";

const ROOT = resolve(import.meta.dir, "../..");
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function startServe(): Promise<{ child: ChildProcess; port: number; exited: Promise<number | null>; output: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), "certauth-shutdown-"));
  dirs.push(dir);
  const port = await freePort();
  const child = spawn(join(ROOT, "node_modules/.bin/bun"), ["src/cli/main.ts", "serve", "--port", String(port), "--host", "127.0.0.1"], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dir, DATABASE_URL: "memory://", ADMIN_TOKEN, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c));
  child.stderr!.on("data", (c: Buffer) => (output += c));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const deadline = Date.now() + 45_000;
  while (!output.includes("listening on")) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start:\n${output}`);
    await Bun.sleep(100);
  }
  return { child, port, exited, output: () => output };
}

/** A POST whose body arrives in two parts; `finish` sends the rest, `answer` resolves with the status. */
function slowRequest(port: number) {
  const body = JSON.stringify({ identityId: "00000000-0000-4000-8000-000000000000" });
  let status: (code: number) => void;
  let failed: (err: Error) => void;
  const answer = new Promise<number>((ok, fail) => ((status = ok), (failed = fail)));
  const req = request(
    {
      host: "127.0.0.1",
      port,
      path: "/api/v1/auth/tls-cert-auth/login",
      method: "POST",
      rejectUnauthorized: false,
      agent: false,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    },
    (res) => {
      res.resume();
      res.on("end", () => status(res.statusCode ?? 0));
    },
  );
  req.on("error", (err) => failed(err));
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  return { answer, finish: () => req.end(body.slice(half)) };
}

function connects(port: number): Promise<boolean> {
  return new Promise((done) => {
    const req = request({ host: "127.0.0.1", port, path: "/api/status", rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      done(true);
    });
    req.on("error", () => done(false));
    req.setTimeout(2000, () => req.destroy());
    req.end();
  });
}

describe("graceful shutdown", () => {
  it("on SIGTERM stops accepting, lets the request in flight finish, closes the database and exits 0", async () => {
    const server = await startServe();
    expect(await connects(server.port)).toBe(true);
    const slow = slowRequest(server.port);
    await Bun.sleep(300);
    server.child.kill("SIGTERM");
    await Bun.sleep(700);
    expect(server.child.exitCode).toBeNull();
    expect(await connects(server.port)).toBe(false);
    slow.finish();
    // No client certificate: the login itself answers 400; what matters is that it answers at all.
    expect(await slow.answer).toBe(400);
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"msg":"shutting down"');
    expect(server.output()).toContain('"msg":"stopped"');
  }, 60_000);

  it("on SIGINT with nothing in flight exits 0 at once", async () => {
    const server = await startServe();
    const started = Date.now();
    server.child.kill("SIGINT");
    expect(await server.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 60_000);
});
