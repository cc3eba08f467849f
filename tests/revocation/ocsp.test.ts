/**
 * OCSP (PRODUCT.md §2.2) end to end against real `openssl ocsp` responders on 127.0.0.1: the test writes the CA,
 * the leaves and an index.txt, starts the responder, and logs in over real mutual TLS. Storage plays no part,
 * so PGlite only.
 */
import { afterAll, beforeAll, describe, expect, it, setDefaultTimeout } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "../../src/pki/x509.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { bundle, makeCa, makeLeaf, type Issued } from "../fixtures/pki.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";
const OCSP_SIGNING = "1.3.6.1.5.5.7.3.9";

const dir = mkdtempSync(join(tmpdir(), "certauth-ocsp-"));
const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

const aiaPort = await freePort();
const aia = [new x509.AuthorityInfoAccessExtension({ ocsp: [`http://127.0.0.1:${aiaPort}`] })];
const root = await makeCa({ subject: "CN=OCSP Root" });
const good = await makeLeaf({ issuer: root, cn: "good", extraExtensions: aia });
const revoked = await makeLeaf({ issuer: root, cn: "revoked", extraExtensions: aia });
const unlisted = await makeLeaf({ issuer: root, cn: "unlisted", extraExtensions: aia });
const delegate = await makeLeaf({ issuer: root, cn: "OCSP Responder", eku: [OCSP_SIGNING] });
const stranger = await makeCa({ subject: "CN=Stranger" });
const forger = await makeLeaf({ issuer: stranger, cn: "OCSP Responder", eku: [OCSP_SIGNING] });

/** openssl's index.txt: V (valid) or R (revoked, with the revocation time), expiry, serial, subject. */
function writeIndex(): string {
  const time = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  const line = (leaf: Issued, state: "V" | "R") =>
    [state, time(leaf.cert.notAfter), state === "R" ? time(new Date(Date.now() - 3600_000)) : "", leaf.serial.toUpperCase(), "unknown", `/CN=${leaf.cert.subjectName.getField("CN")[0]}`].join("\t");
  const path = join(dir, "index.txt");
  writeFileSync(path, `${line(good, "V")}\n${line(revoked, "R")}\n`);
  return path;
}

/** A real `openssl ocsp` responder, signing with `signer` (the CA itself, a delegate, or a stranger). */
class Responder {
  #process: ChildProcess | undefined;
  constructor(
    readonly signer: Issued,
    readonly port: number,
  ) {}
  get url() {
    return `http://127.0.0.1:${this.port}`;
  }
  async start() {
    const file = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
    const id = crypto.randomUUID();
    this.#process = spawn(
      "openssl",
      ["ocsp", "-index", writeIndex(), "-port", `${this.port}`, "-rsigner", file(`${id}.crt`, this.signer.pem), "-rkey", file(`${id}.key`, this.signer.keyPem), "-CA", file("ca.crt", root.pem), "-ndays", "1", "-nrequest", "1000"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    // openssl says it is listening once the socket is bound.
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const read = (chunk: Buffer) => {
        output += chunk;
        if (output.includes("waiting for OCSP client connections")) resolve();
      };
      this.#process!.stdout!.on("data", read);
      this.#process!.stderr!.on("data", read);
      this.#process!.once("exit", () => reject(new Error(`openssl ocsp exited: ${output}`)));
    });
    return this;
  }
  async stop() {
    const child = this.#process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill();
    await exited;
  }
}

setDefaultTimeout(30_000);

describe("OCSP at login", () => {
  let svc: RunningService;
  let orgId: string;
  const byCa = new Responder(root, aiaPort);
  let byDelegate: Responder;
  let byForger: Responder;

  const attach = async (body: Record<string, unknown>) => {
    const id = (await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId } })).json.identity.id as string;
    const res = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: root.pem, ocspEnabled: true, ...body } });
    expect(res.json.message).toBeUndefined();
    return id;
  };
  const login = (identityId: string, leaf: Issued) => svc.call(LOGIN, { body: { identityId }, cert: bundle(leaf), key: leaf.keyPem });
  const reasonOf = async (identityId: string, leaf: Issued) => {
    const res = await login(identityId, leaf);
    return res.status === 200 ? 200 : `${res.status} ${res.headers["x-certauth-reason"]}`;
  };

  beforeAll(async () => {
    await byCa.start();
    byDelegate = await new Responder(delegate, await freePort()).start();
    byForger = await new Responder(forger, await freePort()).start();
    svc = await startService("pglite", { LOGIN_RATE_LIMIT: "0" });
    orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Acme", slug: "acme" } })).json.organization.id;
  }, 120_000);
  afterAll(async () => {
    await svc?.stop();
    await Promise.all([byCa.stop(), byDelegate?.stop(), byForger?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores the six OCSP fields, with their defaults, and PATCH changes them", async () => {
    const id = (await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId } })).json.identity.id;
    const path = `/api/v1/auth/tls-cert-auth/identities/${id}`;
    const attached = (await svc.admin(path, { body: { caCertificate: root.pem } })).json.identityTlsCertAuth;
    expect(attached).toMatchObject({ ocspEnabled: false, ocspServersOverride: null, ocspFailOpen: false, ocspQueryAllServers: false, ocspMaxRetries: 4, ocspThisUpdateMaxAge: 0 });
    const patched = await svc.admin(path, { method: "PATCH", body: { ocspEnabled: true, ocspServersOverride: [byCa.url], ocspMaxRetries: 0, ocspThisUpdateMaxAge: 600 } });
    expect(patched.status).toBe(200);
    expect((await svc.admin(path)).json.identityTlsCertAuth).toMatchObject({ ocspEnabled: true, ocspServersOverride: [byCa.url], ocspMaxRetries: 0, ocspThisUpdateMaxAge: 600 });
    expect((await svc.admin(path, { method: "PATCH", body: { ocspMaxRetries: 11 } })).status).toBe(422);
    expect((await svc.admin(path, { method: "PATCH", body: { ocspServersOverride: ["ftp://127.0.0.1/"] } })).status).toBe(422);
  });

  it("asks the responder the certificate names: good logs in, revoked is certificate_revoked, unknown is revocation_status_unavailable", async () => {
    const id = await attach({});
    expect(await reasonOf(id, good)).toBe(200);
    expect(await reasonOf(id, revoked)).toBe("401 certificate_revoked");
    expect(await reasonOf(id, unlisted)).toBe("401 revocation_status_unavailable");
  });

  it("answers revocation_status_unavailable when no responder answers, and logs in with ocspFailOpen", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    expect(await reasonOf(await attach({ ocspServersOverride: [closed], ocspMaxRetries: 1 }), good)).toBe("401 revocation_status_unavailable");
    expect(await reasonOf(await attach({ ocspServersOverride: [closed], ocspMaxRetries: 1, ocspFailOpen: true }), good)).toBe(200);
  });

  it("accepts a delegated responder the CA issued for id-kp-OCSPSigning, and refuses one signed by another key", async () => {
    const viaDelegate = await attach({ ocspServersOverride: [byDelegate.url] });
    expect(await reasonOf(viaDelegate, good)).toBe(200);
    expect(await reasonOf(viaDelegate, revoked)).toBe("401 certificate_revoked");
    expect(await reasonOf(await attach({ ocspServersOverride: [byForger.url] }), good)).toBe("401 revocation_status_unavailable");
  });

  it("with ocspQueryAllServers, refuses when any responder says revoked", async () => {
    const viaBoth = await attach({ ocspServersOverride: [byDelegate.url, byCa.url], ocspQueryAllServers: true });
    expect(await reasonOf(viaBoth, good)).toBe(200);
    expect(await reasonOf(viaBoth, revoked)).toBe("401 certificate_revoked");
  });

  it("bounds the time a login waits on responders that never answer, however many retries are configured", async () => {
    // Accepts connections and never answers: each request runs into its time cap, the login into its budget.
    const requests: unknown[] = [];
    const silent = createServer((socket) => requests.push(socket));
    const port = await new Promise<number>((resolve) => silent.listen(0, "127.0.0.1", () => resolve((silent.address() as { port: number }).port)));
    try {
      const id = await attach({ ocspServersOverride: [`http://127.0.0.1:${port}/a`, `http://127.0.0.1:${port}/b`], ocspMaxRetries: 10, ocspQueryAllServers: true });
      expect(await reasonOf(id, good)).toBe("401 revocation_status_unavailable");
      // 2 responders × 11 attempts were configured; the 5 s budget at 2 s per request lets at most 3 through.
      expect(requests.length).toBeGreaterThan(0);
      expect(requests.length).toBeLessThanOrEqual(3);
    } finally {
      for (const socket of requests as { destroy(): void }[]) socket.destroy();
      silent.close();
    }
  });

  it("with ocspThisUpdateMaxAge, no longer serves a cached answer older than that: the responder is asked again", async () => {
    const responder = await new Responder(root, await freePort()).start();
    const id = await attach({ ocspServersOverride: [responder.url], ocspMaxRetries: 0, ocspThisUpdateMaxAge: 1 });
    expect(await reasonOf(id, good)).toBe(200);
    await responder.stop();
    // Past the one second the answer may be old (thisUpdate has a resolution of one second).
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(await reasonOf(id, good)).toBe("401 revocation_status_unavailable");
  });

  it("serves a second login from the cached answer while the responder is down, and counts the age of each answer used", async () => {
    const answersUsed = async () => Number(/^certauth_ocsp_answer_age_seconds_count (\d+)$/m.exec((await svc.call("/metrics")).text)?.[1]);
    const id = await attach({});
    expect(await reasonOf(id, good)).toBe(200);
    await byCa.stop();
    const before = await answersUsed();
    expect(await reasonOf(id, good)).toBe(200);
    expect(await answersUsed()).toBe(before + 1);
    // openssl's answers carry thisUpdate = now: fresh answers fall in the first bucket.
    expect((await svc.call("/metrics")).text).toMatch(/^certauth_ocsp_answer_age_seconds_bucket\{le="60"\} [1-9]\d*$/m);
    expect(await reasonOf(id, revoked)).toBe("401 certificate_revoked");
    expect(await reasonOf(await attach({ ocspServersOverride: [`${byCa.url}/other`] }), good)).toBe("401 revocation_status_unavailable");
  });
});
