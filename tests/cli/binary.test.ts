/**
 * `npm run build:binary`, then the binary alone in an empty folder, with a PATH that holds no node, bun or
 * deno and no node_modules anywhere near: quickstart logs in over mTLS, serve answers and stops on SIGTERM,
 * certauth login and certauth agent log in to the quickstart server.
 * The build takes a few seconds (most of it is copying Bun's runtime), so this runs in CI as well.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { makeCa, makeCrlDer } from "../fixtures/pki.ts";
import { freePort } from "../helpers/ports.ts";
import { peakRssMiB } from "../helpers/processes.ts";

const ROOT = resolve(import.meta.dir, "../..");
let dir: string;
let binary: string;
let env: Record<string, string>;

beforeAll(() => {
  const started = Date.now();
  const build = spawnSync("npm", ["run", "--silent", "build:binary"], { cwd: ROOT, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`build:binary failed:\n${build.stdout}\n${build.stderr}`);
  console.log(`build:binary took ${((Date.now() - started) / 1000).toFixed(1)} s; dist/certauth is ${(statSync(join(ROOT, "dist/certauth")).size / 2 ** 20).toFixed(1)} MiB`);
  dir = mkdtempSync(join(tmpdir(), "certauth-binary-"));
  binary = join(dir, "certauth");
  copyFileSync(join(ROOT, "dist/certauth"), binary);
  spawnSync("chmod", ["755", binary]);
  const emptyBin = join(dir, "bin");
  mkdirSync(emptyBin);
  // Only the binary's own folder: an `env -i` world without node, bun, deno or node_modules.
  env = { PATH: emptyBin, HOME: dir, TMPDIR: dir };
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the single binary, alone in an empty folder", () => {
  it("runs certauth quickstart --exit: a real mTLS login, the curl command and the decoded token", () => {
    expect(spawnSync("/bin/sh", ["-c", "command -v node bun deno"], { env }).stdout.toString()).toBe("");
    const result = spawnSync(binary, ["quickstart", "--exit", "--dir", join(dir, "qs")], { cwd: dir, env, encoding: "utf8", timeout: 90_000 });
    expect(result.stderr).not.toContain("    at ");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("a mutual-TLS login worked");
    expect(result.stdout).toMatch(/curl --cacert \S+ca\.crt --cert \S+client\.crt --key \S+client\.key .*-d '\{"identityId":"[0-9a-f-]{36}"\}' https:\/\/localhost:\d+\/api\/v1\/auth\/tls-cert-auth\/login/);
    expect(result.stdout).toContain('"authMethod": "tls-cert-auth"');
    expect(readdirSync(join(dir, "qs")).sort()).toEqual(["ca.crt", "ca.key", "client.crt", "client.key", "data", "server.crt", "server.key"]);
    expect(statSync(join(dir, "qs", "client.key")).mode & 0o777).toBe(0o600);
  }, 120_000);

  it("runs certauth serve on embedded PGlite, its first start on an empty DATA_DIR under 256 MiB of RSS, and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const child = spawn(binary, ["serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", join(dir, "serve-data")], {
      cwd: dir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c));
    child.stderr.on("data", (c: Buffer) => (output += c));
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    const status = () =>
      new Promise<number>((done) => {
        const req = request({ host: "127.0.0.1", port, path: "/api/status", rejectUnauthorized: false, agent: false }, (res) => {
          res.resume();
          done(res.statusCode ?? 0);
        });
        req.on("error", () => done(0));
        req.end();
      });
    try {
      const deadline = Date.now() + 60_000;
      while ((await status()) !== 200) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not answer:\n${output}`);
        await Bun.sleep(200);
      }
      expect(output).toContain("generated an admin token");
      // The embedded data directory template, not PGlite's initdb (which peaked near 950 MiB): a 512 MiB container starts it.
      expect(peakRssMiB(child.pid!)).toBeLessThan(256);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 120_000);

  it("runs certauth login and certauth agent --once against the quickstart server it serves", async () => {
    const port = await freePort();
    const qs = join(dir, "qs-client");
    const server = spawn(binary, ["quickstart", "--dir", qs, "--port", String(port)], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    server.stdout.on("data", (c: Buffer) => (output += c));
    server.stderr.on("data", (c: Buffer) => (output += c));
    const exited = new Promise<number | null>((done) => server.once("exit", (code) => done(code)));
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string; err: string }>((done) => {
        const child = spawn(binary, args, { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.on("data", (c: Buffer) => (out += c));
        child.stderr.on("data", (c: Buffer) => (err += c));
        child.once("close", (code) => done({ code, out, err }));
      });
    try {
      const deadline = Date.now() + 90_000;
      let identityId: string | undefined;
      while (!(identityId = output.match(/"identityId":"([0-9a-f-]{36})"/)?.[1])) {
        if (server.exitCode !== null || Date.now() > deadline) throw new Error(`quickstart did not come up:\n${output}`);
        await Bun.sleep(200);
      }
      const flags = ["--url", `https://localhost:${port}`, "--cert", join(qs, "client.crt"), "--key", join(qs, "client.key"), "--ca", join(qs, "ca.crt"), "--identity-id", identityId];
      const login = await run(["login", ...flags, "--format", "json"]);
      expect(login.err).toBe("");
      expect(login.code).toBe(0);
      expect(JSON.parse(login.out)).toMatchObject({ tokenType: "Bearer", accessToken: expect.any(String) });
      const sink = join(dir, "agent-token");
      const agent = await run(["agent", ...flags, "--sink", sink, "--exec", 'read -r t < "$CERTAUTH_TOKEN_FILE"; test "$t" = "$CERTAUTH_TOKEN"', "--once"]);
      expect(agent.err).toContain('"msg":"exec_finished"');
      expect(agent.code).toBe(0);
      expect(statSync(sink).mode & 0o777).toBe(0o600);
    } finally {
      server.kill("SIGTERM");
      await exited;
    }
  }, 120_000);

  // 1,000 entries: 23 KB of DER, over the 16 KiB from which CRLs go to the worker, and within the 64 KiB request body.
  it("decodes a CRL large enough for the worker thread (its entry is embedded): attach answers 200 and /metrics counts a worker decode", async () => {
    const port = await freePort();
    const adminToken = "binary-test-admin-token-0123456789abcdef";
    const child = spawn(binary, ["serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", join(dir, "crl-data")], {
      cwd: dir,
      env: { ...env, ADMIN_TOKEN: adminToken },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c));
    child.stderr.on("data", (c: Buffer) => (output += c));
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    const call = (method: string, path: string, body?: unknown) =>
      new Promise<{ status: number; text: string }>((done) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const headers: Record<string, string> = { authorization: `Bearer ${adminToken}` };
        if (payload) headers["content-type"] = "application/json";
        const req = request({ host: "127.0.0.1", port, path, method, headers, rejectUnauthorized: false, agent: false }, (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c));
          res.on("end", () => done({ status: res.statusCode ?? 0, text }));
        });
        req.on("error", () => done({ status: 0, text: "" }));
        req.end(payload);
      });
    try {
      const deadline = Date.now() + 60_000;
      while ((await call("GET", "/api/status")).status !== 200) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not answer:\n${output}`);
        await Bun.sleep(200);
      }
      const ca = await makeCa({ subject: "CN=Binary CRL CA" });
      const der = await makeCrlDer({ issuer: ca, revoked: Array.from({ length: 1_000 }, (_, i) => (0x100000 + i).toString(16)) });
      const org = JSON.parse((await call("POST", "/api/v1/organizations", { name: "Binary", slug: "binary" })).text);
      const identity = JSON.parse((await call("POST", "/api/v1/identities", { name: "crl", organizationId: org.organization.id })).text);
      const crls = `-----BEGIN X509 CRL-----\n${Buffer.from(der).toString("base64")}\n-----END X509 CRL-----\n`;
      const attach = await call("POST", `/api/v1/auth/tls-cert-auth/identities/${identity.identity.id}`, { caCertificate: ca.pem, crls });
      expect(attach.status, attach.text).toBe(200);
      expect((await call("GET", "/metrics")).text).toContain('certauth_crl_decodes_total{thread="worker"} 1');
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 120_000);

  it("prints its help and refuses an unknown command with one line", () => {
    expect(spawnSync(binary, ["--help"], { env, encoding: "utf8" }).stdout).toContain("tls-cert-auth attach");
    const unknown = spawnSync(binary, ["nope"], { env, encoding: "utf8" });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.trim().split("\n")).toHaveLength(1);
  });
});
