/**
 * `certauth agent` as its own process (Bun, from the source tree) against a real certauth server with tokens of a
 * few seconds: the sink, renewal and login again, revocation, rotated certificate files, the server going away
 * and coming back, --exec, --once and SIGTERM. Nothing here asserts how long anything took; the tests wait for
 * events with generous timeouts.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";
import { attach, eventually, fingerprintOf, lastLogin, provisioner, startAgent, startCertauth, writeCredentials, type AgentProcess, type Certauth, type LogEvent } from "./support.ts";

let server: Certauth;
let make: Awaited<ReturnType<typeof provisioner>>;
let dir: string;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  server = await startCertauth();
  make = await provisioner(server);
  dir = mkdtempSync(join(tmpdir(), "certauth-agent-"));
}, 60_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await server?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A folder with a fresh client certificate and key in it, and the agent's flags for them. */
async function workload(identityId: string, cn = "svc-agent") {
  const home = join(dir, `w${++n}`);
  mkdirSync(home, { mode: 0o700 });
  const leaf = await make.leaf(cn);
  const cert = join(home, "client.crt");
  const key = join(home, "client.key");
  writeCredentials(leaf, cert, key);
  const sink = join(home, "token");
  const flags = ["--url", server.url, "--cert", cert, "--key", key, "--ca", server.caFile, "--identity-id", identityId];
  return { home, leaf, cert, key, sink, flags };
}

function agent(args: string[], env: Record<string, string> = {}): AgentProcess {
  const a = startAgent(args, env);
  agents.push(a);
  return a;
}

const is = (msg: string, fields: Record<string, unknown> = {}) => (e: LogEvent) => e.msg === msg && Object.entries(fields).every(([k, v]) => e[k] === v);

/** Reads the sink and every temporary file beside it as often as it can: each token seen, and any mode that let group or others in. */
function watchSink(sink: string, folder: string) {
  const seen: { token: string; at: number }[] = [];
  const exposed: string[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      for (const name of readdirSync(folder)) {
        if (name !== "token" && !name.startsWith(".token.")) continue;
        try {
          const mode = statSync(join(folder, name)).mode & 0o777;
          if (mode & 0o077) exposed.push(`${name} ${mode.toString(8)}`);
        } catch {}
      }
      if (existsSync(sink)) {
        const token = readFileSync(sink, "utf8");
        if (token !== seen.at(-1)?.token) seen.push({ token, at: Date.now() });
      }
      await Bun.sleep(10);
    }
  })();
  return {
    seen,
    exposed,
    async stop() {
      running = false;
      await done;
    },
  };
}

describe("certauth agent", () => {
  it("keeps a valid token in the sink: renewed before expiry, logged in again at the max TTL, --exec once per new token, never readable by group or others, exit 0 on SIGTERM", async () => {
    const identityId = await make.identity("sink", { accessTokenTTL: 6, accessTokenMaxTTL: 12 });
    const w = await workload(identityId);
    const execLog = join(w.home, "exec.log");
    const watch = watchSink(w.sink, w.home);
    const a = agent([...w.flags, "--sink", w.sink, "--exec", `printf '%s\\n' "$CERTAUTH_TOKEN" >> ${execLog}`]);
    // A renewal, then a renewal that no longer extends the token (its max TTL), then a second login.
    await a.waitFor(is("token", { via: "renew" }), "a renewal");
    await a.waitFor(is("sink_written", { via: "login" }), "the sink written after a second login", 2);
    const written = a.count(is("sink_written"));
    await a.waitFor(is("exec_finished"), "every --exec to finish", written);
    await watch.stop();
    expect(await a.stop()).toBe(0);

    expect(watch.exposed).toEqual([]);
    expect(statSync(w.sink).mode & 0o777).toBe(0o600);
    // Each token the sink held was replaced while it was still valid.
    const tokens = watch.seen.map((s) => s.token);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(tokens.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < watch.seen.length; i++) {
      expect(watch.seen[i]!.at).toBeLessThan(decodeJwt(watch.seen[i - 1]!.token).exp! * 1000);
    }
    expect(a.events.some((e) => e.msg === "renew_not_extended" || (e.msg === "renew_refused" && e.reason === "max_ttl_reached"))).toBe(true);
    // --exec ran once per token written, each with that token, in order.
    const ran = readFileSync(execLog, "utf8").trim().split("\n");
    expect(ran.length).toBe(a.count(is("sink_written")));
    expect(new Set(ran).size).toBe(ran.length);
    expect(ran.slice(0, tokens.length)).toEqual(tokens.slice(0, ran.length));
    expect(ran.at(-1)).toBe(readFileSync(w.sink, "utf8"));
    // Never the token in a log line, and the sink's folder holds no temporary file after the exit.
    expect(JSON.stringify(a.events) + a.other()).not.toContain(tokens[0]!.split(".")[2]!);
    expect(readdirSync(w.home).filter((f) => f.startsWith("."))).toEqual([]);
    expect(a.events.at(-1)).toMatchObject({ msg: "stopped", exitCode: 0 });
  }, 90_000);

  it("logs in again when its token is revoked, and when the identity's configuration is deleted and attached again", async () => {
    const identityId = await make.identity("revoked", { accessTokenTTL: 4, accessTokenMaxTTL: 3600 });
    const w = await workload(identityId);
    const a = agent([...w.flags, "--sink", w.sink, "--max-backoff", "2"]);
    await a.waitFor(is("sink_written"), "the first token");
    const revoked = readFileSync(w.sink, "utf8");
    expect((await server.admin("/api/v1/auth/token/revoke", { body: { accessToken: revoked } })).status).toBe(200);
    await a.waitFor(is("renew_refused", { reason: "token_revoked" }), "the refused renewal");
    // The "token" line comes before the sink is written: wait for the write itself.
    await a.waitFor(is("sink_written", { via: "login" }), "the sink written after a login after the revocation", 2);
    expect(readFileSync(w.sink, "utf8")).not.toBe(revoked);

    // DELETE revokes every token of the configuration; until it is attached again, logins answer 404.
    expect((await server.admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, { method: "DELETE" })).status).toBe(200);
    await a.waitFor(is("attempt_failed", { status: 404 }), "a login refused with 404");
    await attach(server, identityId, make.ca, { accessTokenTTL: 4, accessTokenMaxTTL: 3600 });
    await a.waitFor(is("token", { via: "login" }), "a login once attached again", 3);
    expect(await a.stop()).toBe(0);
  }, 90_000);

  it("reads the certificate and key again when their files are replaced in place or through a swapped symlink: the next login's audit event carries the new fingerprint", async () => {
    const identityId = await make.identity("rotated", { accessTokenTTL: 3600, accessTokenMaxTTL: 3600 });
    const home = join(dir, "rotation");
    mkdirSync(home, { mode: 0o700 });
    // Kubernetes' layout for a mounted secret: client.crt → ..data/client.crt, ..data → a versioned folder.
    const version = async (name: string) => {
      const leaf = await make.leaf("svc-rotated");
      mkdirSync(join(home, name));
      writeCredentials(leaf, join(home, name, "client.crt"), join(home, name, "client.key"));
      return leaf;
    };
    const first = await version("v1");
    symlinkSync("v1", join(home, "..data"));
    symlinkSync("..data/client.crt", join(home, "client.crt"));
    symlinkSync("..data/client.key", join(home, "client.key"));
    const a = agent(["--url", server.url, "--cert", join(home, "client.crt"), "--key", join(home, "client.key"), "--ca", server.caFile, "--identity-id", identityId, "--sink", join(home, "token")]);
    await a.waitFor(is("token", { via: "login" }), "the first login");
    expect((await lastLogin(server, identityId))?.certificateFingerprint).toBe(fingerprintOf(first));

    // In place, as step and cert-manager's file writers do: the key first, then the certificate.
    const second = await make.leaf("svc-rotated");
    writeCredentials(second, join(home, "v1", "client.crt"), join(home, "v1", "client.key"));
    await a.waitFor(is("credentials_loaded", { fingerprint: fingerprintOf(second) }), "the second certificate read");
    await a.waitFor(is("token", { via: "login", fingerprint: fingerprintOf(second) }), "a login with it");
    expect((await lastLogin(server, identityId))?.certificateFingerprint).toBe(fingerprintOf(second));

    // A symlink swap: a new versioned folder, then ..data renamed over atomically.
    const third = await version("v2");
    symlinkSync("v2", join(home, "..data_tmp"));
    renameSync(join(home, "..data_tmp"), join(home, "..data"));
    await a.waitFor(is("token", { via: "login", fingerprint: fingerprintOf(third) }), "a login with the third certificate");
    expect((await lastLogin(server, identityId))?.certificateFingerprint).toBe(fingerprintOf(third));
    expect(a.count(is("token", { via: "login" }))).toBe(3);
    expect(await a.stop()).toBe(0);
  }, 90_000);

  it("goes on with the certificate and key it has while the files on disk are half of a rotation, and logs in with the new pair once it is whole", async () => {
    const identityId = await make.identity("half-rotated", { accessTokenTTL: 3, accessTokenMaxTTL: 3600 });
    const w = await workload(identityId);
    const a = agent([...w.flags, "--sink", w.sink]);
    await a.waitFor(is("token", { via: "login" }), "the first login");
    // A new certificate beside the old key, and nothing more for a while: a writer that died half way.
    const next = await make.leaf("svc-agent");
    writeFileSync(w.cert, next.pem);
    const rejected = await a.waitFor(is("credentials_rejected"), "the mismatched pair to be turned down");
    expect(rejected.message).toContain("does not belong to the certificate");
    const tokensBefore = a.count(is("token"));
    await a.waitFor(is("token", { fingerprint: fingerprintOf(w.leaf) }), "two more tokens with the pair it has", tokensBefore + 2);
    expect(a.count(is("attempt_failed"))).toBe(0);
    // Read again only when a file moves: each state of the certificate file is turned down once, not once a second.
    expect(a.count(is("credentials_rejected"))).toBeLessThanOrEqual(2);
    writeFileSync(w.key, next.keyPem);
    await a.waitFor(is("token", { via: "login", fingerprint: fingerprintOf(next) }), "a login with the whole new pair");
    expect((await lastLogin(server, identityId))?.certificateFingerprint).toBe(fingerprintOf(next));
    expect(await a.stop()).toBe(0);
  }, 90_000);

  it("logs in again on SIGHUP", async () => {
    const identityId = await make.identity("hup", { accessTokenTTL: 3600, accessTokenMaxTTL: 3600 });
    const w = await workload(identityId);
    const a = agent([...w.flags, "--sink", w.sink]);
    await a.waitFor(is("token", { via: "login" }), "the first login");
    a.child.kill("SIGHUP");
    await a.waitFor(is("token", { via: "login" }), "a login after SIGHUP", 2);
    expect(await a.stop()).toBe(0);
  }, 60_000);

  it("backs off with a bounded number of attempts while the server is away, and recovers when it is back on the same port and database", async () => {
    const identityId = await make.identity("away", { accessTokenTTL: 3, accessTokenMaxTTL: 3600 });
    const w = await workload(identityId);
    const a = agent([...w.flags, "--sink", w.sink, "--max-backoff", "2"]);
    await a.waitFor(is("token", { via: "renew" }), "a renewal");
    await server.stop();
    const down = Date.now();
    try {
      await a.waitFor(is("attempt_failed", { code: "ERR_CERTAUTH_CONNECTION" }), "failed attempts", 4);
      await Bun.sleep(2000);
    } finally {
      await server.start();
    }
    const downFor = Date.now() - down;
    const failed = a.events.filter(is("attempt_failed"));
    await a.waitFor((e) => e.msg === "token" && Date.parse(e.time) > down + downFor, "a token after the server came back");
    // Between half and all of min(2 s, 1 s · 2^k) apart: at most 1 + (time away) / 0.5 s, never a tight loop.
    expect(failed.length).toBeLessThanOrEqual(1 + Math.ceil(downFor / 500));
    const times = failed.map((e) => Date.parse(e.time));
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(400);
    expect(failed.every((e) => typeof e.retryInMs === "number" && (e.retryInMs as number) <= 2000)).toBe(true);
    expect(await a.stop()).toBe(0);
  }, 90_000);

  it("while --exec is still running, renewal goes on and the runs do not pile up: the next run gets the newest token, not each one missed", async () => {
    const identityId = await make.identity("exec-slow", { accessTokenTTL: 3, accessTokenMaxTTL: 3600 });
    const w = await workload(identityId);
    const execLog = join(w.home, "exec.log");
    const gate = join(w.home, "gate");
    const watch = watchSink(w.sink, w.home);
    // The first run holds until the test opens the gate; the runs after it pass straight through.
    const a = agent([...w.flags, "--sink", w.sink, "--exec", `printf '%s\\n' "$CERTAUTH_TOKEN" >> ${execLog}; while [ ! -e ${gate} ]; do sleep 0.05; done`]);
    await a.waitFor(is("sink_written"), "four more tokens while the first run holds", 5);
    const atGate = readFileSync(w.sink, "utf8");
    writeFileSync(gate, "");
    await a.waitFor(is("exec_finished"), "the second run", 2);
    await watch.stop();
    expect(await a.stop()).toBe(0);
    const ran = readFileSync(execLog, "utf8").trim().split("\n");
    const order = watch.seen.map((s) => s.token);
    expect(ran[0]).toBe(order[0]!);
    // Not the second token (queued behind the first run), but the one the sink held when the first run ended, or a newer one.
    expect(order.indexOf(ran[1]!)).toBeGreaterThanOrEqual(order.indexOf(atGate));
  }, 90_000);

  it("--once logs in, writes the sink, runs --exec and exits 0; refused, it exits 1 with the reason and writes nothing", async () => {
    const identityId = await make.identity("once", { accessTokenTTL: 60, accessTokenMaxTTL: 60 });
    const w = await workload(identityId);
    const ok = agent([...w.flags, "--sink", w.sink, "--exec", `test "$CERTAUTH_TOKEN" = "$(cat "$CERTAUTH_TOKEN_FILE")"`, "--once"]);
    expect(await ok.exited).toBe(0);
    expect(statSync(w.sink).mode & 0o777).toBe(0o600);
    expect(ok.count(is("exec_finished", { exitCode: 0 }))).toBe(1);

    const stranger = await workload(identityId);
    const other = await makeStrangerLeaf();
    writeCredentials(other, stranger.cert, stranger.key);
    const refused = agent([...stranger.flags, "--sink", stranger.sink, "--once"]);
    expect(await refused.exited).toBe(1);
    expect(existsSync(stranger.sink)).toBe(false);
    expect(refused.events.find(is("attempt_failed"))).toMatchObject({ status: 401, reason: "ca_verification_failed", error: "UnauthorizedError" });

    const failingExec = agent([...w.flags, "--exec", "exit 3", "--once"]);
    expect(await failingExec.exited).toBe(1);
  }, 60_000);

  it("refuses to start without --sink or --exec, or without a URL, with a usage error", () => {
    const run = (args: string[]) => spawnSync(process.execPath, ["src/cli/main.ts", "agent", ...args], { cwd: join(import.meta.dir, "../.."), encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
    const noSink = run(["--url", server.url, "--cert", "c", "--key", "k", "--identity-id", "x"]);
    expect(noSink.status).toBe(2);
    expect(noSink.stderr).toContain("--sink or --exec is required");
    const noUrl = run(["--sink", "s", "--cert", "c", "--key", "k", "--identity-id", "x"]);
    expect(noUrl.status).toBe(2);
    expect(noUrl.stderr).toContain("--url (or CERTAUTH_URL) is required");
  });
});

async function makeStrangerLeaf() {
  return makeLeaf({ issuer: await makeCa({ subject: "CN=Stranger CA" }), cn: "svc-agent" });
}
