/**
 * TLS session resumption on the bridge, on Bun, Deno and Node (the bridge alone, tests/adapters/fixtures/
 * bridge-echo.ts, as its own process per runtime), driven by openssl s_client -sess_out/-sess_in: a resumed
 * session reports the chain of the full handshake that created it, and a session created without one none.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { makeSelfSignedServerCert } from "../../src/tls/self-signed.ts";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";
import { RUNTIMES, type Runtime } from "../helpers/processes.ts";

const ROOT = resolve(import.meta.dir, "../..");
const ECHO = join(import.meta.dir, "fixtures/bridge-echo.ts");
const COMMANDS: Record<Runtime, string[]> = {
  bun: [join(ROOT, "node_modules/.bin/bun"), ECHO],
  node: ["node", "--import", "tsx", ECHO],
  deno: [join(ROOT, "node_modules/deno/deno"), "run", "--no-prompt", "--allow-net", "--allow-read", "--allow-env", "--allow-sys", ECHO],
};

const root = await makeCa({ subject: "CN=Resumption Root" });
const inter = await makeCa({ subject: "CN=Resumption Intermediate", issuer: root });
const leaf = await makeLeaf({ issuer: inter, cn: "resumed-leaf" });
const stranger = await makeLeaf({ issuer: await makeCa({ subject: "CN=Resumption Stranger CA" }), cn: "stranger" });
const server = await makeSelfSignedServerCert();

const dir = mkdtempSync(join(tmpdir(), "certauth-resumption-"));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text, { mode: 0o600 });
  return join(dir, name);
};
const files = {
  serverCert: file("server.pem", server.certPem),
  serverKey: file("server.key", server.keyPem),
  root: file("root.pem", root.pem),
  leaf: file("leaf.pem", leaf.pem),
  inter: file("inter.pem", inter.pem),
  leafKey: file("leaf.key", leaf.keyPem),
  stranger: file("stranger.pem", stranger.pem),
  strangerKey: file("stranger.key", stranger.keyPem),
};
const sha256 = (der: Uint8Array) => createHash("sha256").update(der).digest("hex");
const LEAF_CHAIN = [sha256(leaf.der), sha256(inter.der)];

interface Echo {
  port: number;
  child: ChildProcess;
}

function startEcho(runtime: Runtime, clientCa?: string): Promise<Echo> {
  const [cmd, ...args] = COMMANDS[runtime] as [string, ...string[]];
  const child = spawn(cmd, [...args, files.serverCert, files.serverKey, ...(clientCa ? [clientCa] : [])], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((done, fail) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const port = /listening (\d+)/.exec(output)?.[1];
      if (port) done({ port: Number(port), child });
    });
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("exit", () => fail(new Error(`the ${runtime} bridge exited:\n${output}`)));
  });
}

interface Attempt {
  /** openssl's word for the session: "New" or "Reused"; undefined when the handshake failed. */
  session?: string;
  /** The chain the bridge read, SHA-256 of each certificate; undefined when nothing was answered. */
  chain?: string[];
}

/** One GET over a fresh connection with openssl s_client. */
function attempt(port: number, flags: string[], options: { cert?: "leaf" | "stranger"; sessOut?: string; sessIn?: string }): Promise<Attempt> {
  const args = ["s_client", "-connect", `127.0.0.1:${port}`, "-ign_eof", ...flags];
  if (options.cert === "leaf") args.push("-cert", files.leaf, "-cert_chain", files.inter, "-key", files.leafKey);
  if (options.cert === "stranger") args.push("-cert", files.stranger, "-key", files.strangerKey);
  if (options.sessOut) args.push("-sess_out", options.sessOut);
  if (options.sessIn) args.push("-sess_in", options.sessIn);
  return new Promise((done, fail) => {
    const child = spawn("openssl", args, { stdio: ["pipe", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("latin1")));
    child.on("error", fail);
    child.on("close", () => {
      // Exactly the echo's body: s_client prints its own lines around it, sometimes on the same line.
      const body = /\{"chain":\[(?:"[0-9a-f]{64}"(?:,"[0-9a-f]{64}")*)?\]\}/.exec(out)?.[0];
      done({ session: /^(New|Reused), /m.exec(out)?.[1], chain: body ? JSON.parse(body).chain : undefined });
    });
    child.stdin.end("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  });
}

const echoes = new Map<string, Echo>();

beforeAll(async () => {
  const started = await Promise.allSettled(
    RUNTIMES.flatMap((runtime) => [
      startEcho(runtime).then((echo) => echoes.set(`${runtime} open`, echo)),
      startEcho(runtime, files.root).then((echo) => echoes.set(`${runtime} strict`, echo)),
    ]),
  );
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
}, 120_000);

afterAll(() => {
  for (const { child } of echoes.values()) child.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

const TICKETS = [
  ["TLS 1.3 tickets", ["-tls1_3"]],
  ["TLS 1.2 tickets", ["-tls1_2"]],
] as const;

describe.each(RUNTIMES)("the bridge on %s", (runtime) => {
  const port = (mode: "open" | "strict") => echoes.get(`${runtime} ${mode}`)!.port;

  for (const [name, flags] of TICKETS) {
    it(`reports, on a session resumed from ${name}, the chain of the handshake that created it, or none if it had none, whatever the client holds now`, async () => {
      const withCert = join(dir, `${runtime}-${flags[0]}-cert.session`);
      expect(await attempt(port("open"), [...flags], { cert: "leaf", sessOut: withCert })).toEqual({ session: "New", chain: LEAF_CHAIN });
      expect(await attempt(port("open"), [...flags], { sessIn: withCert })).toEqual({ session: "Reused", chain: LEAF_CHAIN });
      expect(await attempt(port("open"), [...flags], { sessIn: withCert, cert: "stranger" })).toEqual({ session: "Reused", chain: LEAF_CHAIN });
      const bare = join(dir, `${runtime}-${flags[0]}-bare.session`);
      expect(await attempt(port("open"), [...flags], { sessOut: bare })).toEqual({ session: "New", chain: [] });
      expect(await attempt(port("open"), [...flags], { sessIn: bare, cert: "leaf" })).toEqual({ session: "Reused", chain: [] });
    });
  }

  it("resumes TLS 1.2 from tickets only, not by session id: that client's next handshake is a full one, with its own certificate", async () => {
    const session = join(dir, `${runtime}-session-id.session`);
    expect(await attempt(port("open"), ["-tls1_2"], { cert: "leaf", sessOut: session })).toEqual({ session: "New", chain: LEAF_CHAIN });
    expect(await attempt(port("open"), ["-tls1_2"], { sessIn: session })).toEqual({ session: "Reused", chain: LEAF_CHAIN });
    const flags = ["-tls1_2", "-no_ticket"];
    expect(await attempt(port("open"), flags, { cert: "leaf", sessOut: session })).toEqual({ session: "New", chain: LEAF_CHAIN });
    expect(await attempt(port("open"), flags, { sessIn: session })).toEqual({ session: "New", chain: [] });
    expect(await attempt(port("open"), flags, { sessIn: session, cert: "stranger" })).toEqual({ session: "New", chain: [sha256(stranger.der)] });
  });

  for (const [name, flags] of TICKETS) {
    it(`with TLS_CLIENT_CA_FILE, resumes from ${name} only sessions whose handshake passed it, with the verified chain`, async () => {
      const good = join(dir, `${runtime}-${flags[0]}-strict-good.session`);
      const verified = [...LEAF_CHAIN, sha256(root.der)];
      expect(await attempt(port("strict"), [...flags], { cert: "leaf", sessOut: good })).toEqual({ session: "New", chain: verified });
      expect(await attempt(port("strict"), [...flags], { sessIn: good })).toEqual({ session: "Reused", chain: verified });
      // A refused handshake leaves the client no session to resume.
      for (const cert of ["stranger", undefined] as const) {
        const refused = join(dir, `${runtime}-${flags[0]}-strict-${cert ?? "none"}.session`);
        expect((await attempt(port("strict"), [...flags], { cert, sessOut: refused })).chain).toBeUndefined();
        expect(existsSync(refused)).toBe(false);
      }
    });
  }
});
