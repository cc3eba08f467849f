/**
 * Real clients, written as their users write them, against the service started from its Bun entry: each logs
 * in several times over new connections that resume the TLS session of the first (Node's default agent, curl
 * with several URLs) or over one kept-alive connection (Python requests, whose urllib3 2.x never resumes a TLS
 * session: a new connection is a full handshake), then uses the token.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundle, makeCa, makeLeaf } from "../fixtures/pki.ts";
import { startServiceProcess, stopAllProcesses, type ServiceProcess } from "../helpers/processes.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";
const NODE_CLIENT = join(import.meta.dir, "clients/node-default-agent.mjs");
const PYTHON_CLIENT = join(import.meta.dir, "clients/requests-session.py");

const root = await makeCa({ subject: "CN=Compat Root" });
const inter = await makeCa({ subject: "CN=Compat Intermediate", issuer: root });
const leaf = await makeLeaf({ issuer: inter, cn: "compat-client" });
const LEAF_FINGERPRINT = createHash("sha256").update(leaf.der).digest("hex");

const dir = mkdtempSync(join(tmpdir(), "certauth-compat-"));
const cert = join(dir, "client.pem");
const key = join(dir, "client-key.pem");
writeFileSync(cert, bundle(leaf, inter));
writeFileSync(key, leaf.keyPem, { mode: 0o600 });

let svc: ServiceProcess;
let ca: string;
/** An identity whose tokens are plain, and one whose tokens are bound to the certificate (RFC 8705). */
let plain: string;
let bound: string;

beforeAll(async () => {
  svc = await startServiceProcess("bun");
  ca = join(svc.dataDir, "server.crt");
  const org = (await svc.admin("/api/v1/organizations", { body: { name: "Compat", slug: "compat" } })).json.organization.id;
  const identity = async (name: string, bindTokensToCertificate: boolean) => {
    const id: string = (await svc.admin("/api/v1/identities", { body: { name, organizationId: org } })).json.identity.id;
    const attach = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, {
      body: { caCertificate: root.pem, verifyClientCertificateChain: true, bindTokensToCertificate },
    });
    if (attach.status !== 200) throw new Error(`attach: ${attach.status} ${attach.text}`);
    return id;
  };
  plain = await identity("plain", false);
  bound = await identity("bound", true);
}, 120_000);

afterAll(async () => {
  await svc?.stop();
  await stopAllProcesses();
  rmSync(dir, { recursive: true, force: true });
});

function run(argv: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("error", fail);
    child.on("close", (code) => (code === 0 ? done(out) : fail(new Error(`${cmd} exited with ${code}: ${err}`))));
  });
}

/** The identity's login events, successful or not, newest first. */
async function loginEvents(identityId: string) {
  const res = await svc.admin(`/api/v1/audit-logs?identityId=${identityId}&limit=1000`);
  return (res.json.auditLogs as { eventType: string; certificateFingerprint: string | null }[]).filter((e) => e.eventType.startsWith("login-"));
}

describe("Node's https with its default agent", () => {
  const nodeClient = async (identityId: string) =>
    JSON.parse(await run(["node", NODE_CLIENT, svc.url, ca, cert, key, identityId, "3"]));

  it("logs in on every new connection, the resumed ones included, then reads /token/self with the token", async () => {
    const out = await nodeClient(plain);
    expect(out.agentIsDefault).toBe(true);
    // Only the first connection made a full handshake: the test is not passing for want of resumption.
    expect(out.logins).toEqual([
      { status: 200, reused: false },
      { status: 200, reused: true },
      { status: 200, reused: true },
    ]);
    expect(out.self).toMatchObject({ status: 200, reused: true, body: { identityId: plain, certificateBound: false } });
  });

  it("records the resumed session's certificate in the audit log, like the first one's", async () => {
    const before = (await loginEvents(plain)).length;
    await nodeClient(plain);
    const events = await loginEvents(plain);
    expect(events.length).toBe(before + 3);
    for (const event of events.slice(0, 3)) {
      expect(event).toMatchObject({ eventType: "login-identity-tls-cert-auth", certificateFingerprint: LEAF_FINGERPRINT });
    }
  });

  it("gets certificate-bound tokens on resumed sessions, and uses one on a resumed session", async () => {
    const out = await nodeClient(bound);
    expect(out.logins.map((l: { status: number }) => l.status)).toEqual([200, 200, 200]);
    expect(out.self).toMatchObject({ status: 200, reused: true, body: { identityId: bound, certificateBound: true } });
  });
});

describe("Python requests with a Session", () => {
  it("logs in several times over one kept-alive connection, again over a new one, then reads /token/self", async () => {
    const out = JSON.parse(await run(["python3", PYTHON_CLIENT, svc.url, ca, cert, key, plain, "3"]));
    expect(out.rounds).toEqual([
      { statuses: [200, 200, 200], connections: 1 },
      { statuses: [200, 200, 200], connections: 1 },
    ]);
    expect(out.self).toMatchObject({ status: 200, body: { identityId: plain } });
  });
});

describe("curl with two URLs in one invocation", () => {
  it("logs in at both (200 200), the second on a new connection that resumes the first one's session", async () => {
    const url = `${svc.url}${LOGIN}`;
    // connection: close, as when a proxy or the server does not keep the connection: curl then opens a new one
    // for the second URL and resumes the TLS session it cached from the first.
    const out = await run([
      "curl", "-s", "-o", "/dev/null", "-o", "/dev/null", "--cacert", ca, "--cert", cert, "--key", key,
      "-H", "content-type: application/json", "-H", "connection: close", "-d", JSON.stringify({ identityId: plain }),
      "-w", "%{http_code} %{num_connects}\\n", url, url,
    ]);
    expect(out.trim().split("\n")).toEqual(["200 1", "200 1"]);
  });
});
