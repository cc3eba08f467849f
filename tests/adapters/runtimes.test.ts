/**
 * The service started as its own process on Bun, Deno and Node (CLIENT_CERT_SOURCE=tls, the node:tls
 * bridge on all three), logged into over real mutual TLS by two independent clients: Node's https and curl.
 * Session resumption is driven with openssl s_client -sess_out/-sess_in (tests/adapters/resumption.test.ts has the details).
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { spawn } from "node:child_process";
import { Agent, request } from "node:https";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundle, makeCa, makeCrlDer, makeLeaf } from "../fixtures/pki.ts";
import { RUNTIMES, startAll, startServiceProcess, stopAllProcesses, type Runtime, type ServiceProcess } from "../helpers/processes.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";

const root = await makeCa({ subject: "CN=Runtime Test Root" });
const inter = await makeCa({ subject: "CN=Runtime Test Intermediate", issuer: root });
const leaf = await makeLeaf({ issuer: inter, cn: "svc-runtime" });
const otherRoot = await makeCa({ subject: "CN=Runtime Other Root" });
const stranger = await makeLeaf({ issuer: otherRoot, cn: "svc-runtime" });

const files = mkdtempSync(join(tmpdir(), "certauth-runtime-certs-"));
const file = (name: string, text: string) => {
  writeFileSync(join(files, name), text, { mode: 0o600 });
  return join(files, name);
};
const chainFile = file("leaf-chain.pem", bundle(leaf, inter));
const leafKeyFile = file("leaf.key", leaf.keyPem);
const interFile = file("inter.pem", inter.pem);
const strangerFile = file("stranger.pem", stranger.pem);
const strangerKeyFile = file("stranger.key", stranger.keyPem);

const services = new Map<Runtime, { svc: ServiceProcess; identityId: string }>();

beforeAll(async () => {
  await startAll(
    RUNTIMES.map(async (runtime) => {
      const svc = await startServiceProcess(runtime);
      services.set(runtime, { svc, identityId: await provisionIdentity(svc) });
    }),
  );
}, 120_000);

afterAll(async () => {
  await Promise.all([...services.values()].map(({ svc }) => svc.stop()));
  await stopAllProcesses();
  rmSync(files, { recursive: true, force: true });
});

/** An organization and an identity whose TLS cert auth trusts only `root`, intermediates from the client. */
async function provisionIdentity(svc: ServiceProcess): Promise<string> {
  const ok = (res: { status: number; text: string }, what: string) => {
    if (res.status !== 200) throw new Error(`${what} on ${svc.runtime}: ${res.status} ${res.text}\n${svc.output()}`);
  };
  const org = await svc.admin("/api/v1/organizations", { body: { name: "Runtimes", slug: "runtimes" } });
  ok(org, "create organization");
  const identity = await svc.admin("/api/v1/identities", { body: { name: "agent", organizationId: org.json.organization.id } });
  ok(identity, "create identity");
  const id: string = identity.json.identity.id;
  const attach = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, {
    body: { caCertificate: root.pem, verifyClientCertificateChain: true },
  });
  ok(attach, "attach TLS cert auth");
  return id;
}

interface Exchange {
  status: number;
  headers: Record<string, string>;
  body: any;
  /** What openssl s_client said about the session, e.g. "New" or "Reused". */
  session?: string;
}

function run(argv: string[], stdin?: string): Promise<string> {
  return new Promise((done, fail) => {
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("latin1")));
    child.stderr.on("data", () => {});
    child.on("error", fail);
    child.on("close", () => done(out));
    child.stdin.end(stdin ?? "");
  });
}

/** Parses an HTTP/1.1 response out of raw output (curl -i, or the tail of s_client's transcript). */
function parseResponse(raw: string): Exchange {
  const start = raw.lastIndexOf("HTTP/1.1 ");
  if (start < 0) return { status: 0, headers: {}, body: undefined };
  const [head = "", body = ""] = raw.slice(start).split("\r\n\r\n", 2) as [string?, string?];
  const [statusLine, ...lines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  // s_client keeps printing after the response (TLS 1.3 tickets); the body is content-length bytes.
  const json = body.slice(0, Number(headers["content-length"] ?? body.length));
  return { status: Number(statusLine!.split(" ")[1]), headers, body: json ? JSON.parse(json) : undefined };
}

async function curlLogin(url: string, identityId: string, cert?: { cert: string; key: string }): Promise<Exchange> {
  const args = ["curl", "-sk", "-i", "--http1.1", "-X", "POST", "-H", "content-type: application/json", "--data", JSON.stringify({ identityId })];
  if (cert) args.push("--cert", cert.cert, "--key", cert.key);
  return parseResponse(await run([...args, `${url}${LOGIN}`]));
}

async function opensslLogin(svc: ServiceProcess, identityId: string, options: { tls: string; cert: boolean; sessOut?: string; sessIn?: string }): Promise<Exchange> {
  const body = JSON.stringify({ identityId });
  const request =
    `POST ${LOGIN} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
  const args = ["openssl", "s_client", "-connect", `127.0.0.1:${svc.port}`, options.tls, "-ign_eof"];
  if (options.cert) args.push("-cert", chainFile, "-cert_chain", interFile, "-key", leafKeyFile);
  if (options.sessOut) args.push("-sess_out", options.sessOut);
  if (options.sessIn) args.push("-sess_in", options.sessIn);
  const out = await run(args, request);
  const session = /^(New|Reused), /m.exec(out)?.[1];
  return { ...parseResponse(out), session };
}

const expectToken = (body: any) =>
  expect(body).toEqual({ accessToken: expect.any(String), expiresIn: expect.any(Number), accessTokenMaxTTL: expect.any(Number), tokenType: "Bearer" });

describe.each(RUNTIMES)("the service on %s, as its own process", (runtime) => {
  const get = () => services.get(runtime)!;

  it("answers /api/status over HTTPS", async () => {
    const res = await get().svc.call("/api/status");
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: "ok", database: "ok" });
  });

  // 1,000 entries: 23 KB, over the 16 KiB from which a CRL is decoded in the worker thread (node:worker_threads on each runtime).
  it("decodes a large CRL in its worker thread: attach answers 200, /metrics counts one worker decode, the listed leaf is refused", async () => {
    const { svc } = get();
    const der = await makeCrlDer({ issuer: inter, revoked: [...Array.from({ length: 1_000 }, (_, i) => (0x200000 + i).toString(16)), leaf.serial] });
    const crls = `-----BEGIN X509 CRL-----\n${Buffer.from(der).toString("base64")}\n-----END X509 CRL-----\n`;
    const org = await svc.admin("/api/v1/organizations", { body: { name: "CRL", slug: `crl-${runtime}` } });
    const identity = await svc.admin("/api/v1/identities", { body: { name: "crl", organizationId: org.json.organization.id } });
    const id: string = identity.json.identity.id;
    const attach = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: root.pem, verifyClientCertificateChain: true, crls } });
    expect(attach.json.message).toBeUndefined();
    expect(attach.status).toBe(200);
    expect((await svc.call("/metrics")).text).toContain('certauth_crl_decodes_total{thread="worker"} 1');
    const res = await svc.call(LOGIN, { body: { identityId: id }, cert: bundle(leaf, inter), key: leaf.keyPem });
    expect(res.headers["x-certauth-reason"]).toBe("certificate_revoked");
  });

  it("logs in a leaf + intermediate chain over mTLS from Node's https client (200, a Bearer token)", async () => {
    const { svc, identityId } = get();
    const res = await svc.call(LOGIN, { body: { identityId }, cert: bundle(leaf, inter), key: leaf.keyPem });
    expect(res.status).toBe(200);
    expectToken(res.json);
  });

  it("logs in with curl --cert --key (200, a Bearer token)", async () => {
    const { svc, identityId } = get();
    const res = await curlLogin(svc.url, identityId, { cert: chainFile, key: leafKeyFile });
    expect(res.status).toBe(200);
    expectToken(res.body);
  });

  it("refuses a certificate from another CA with 401 ca_verification_failed, from both clients", async () => {
    const { svc, identityId } = get();
    const viaNode = await svc.call(LOGIN, { body: { identityId }, cert: stranger.pem, key: stranger.keyPem });
    expect(viaNode.status).toBe(401);
    expect(viaNode.headers["x-certauth-reason"]).toBe("ca_verification_failed");
    const viaCurl = await curlLogin(svc.url, identityId, { cert: strangerFile, key: strangerKeyFile });
    expect(viaCurl.status).toBe(401);
    expect(viaCurl.headers["x-certauth-reason"]).toBe("ca_verification_failed");
  });

  it("refuses a login without a client certificate with 400, from both clients", async () => {
    const { svc, identityId } = get();
    expect((await svc.call(LOGIN, { body: { identityId } })).status).toBe(400);
    expect((await curlLogin(svc.url, identityId)).status).toBe(400);
  });

  it("serves several requests on one kept-alive mTLS connection", async () => {
    const { svc } = get();
    const agent = new Agent({ keepAlive: true, maxSockets: 1, cert: bundle(leaf, inter), key: leaf.keyPem, rejectUnauthorized: false });
    const reused: boolean[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const status = await new Promise<number>((done, fail) => {
          const req = request(`${svc.url}/api/status`, { agent }, (res) => {
            reused.push(req.reusedSocket);
            res.resume();
            res.on("end", () => done(res.statusCode ?? 0));
          });
          req.on("error", fail);
          req.end();
        });
        expect(status).toBe(200);
      }
    } finally {
      agent.destroy();
    }
    expect(reused).toEqual([false, true, true]);
  });

  for (const tls of ["-tls1_3", "-tls1_2"]) {
    it(`logs in on a resumed ${tls.slice(1)} session with the certificate of the handshake that created it (200), and not on one created without (400)`, async () => {
      const { svc, identityId } = get();
      const sessionFile = join(files, `${runtime}${tls}.session`);
      const first = await opensslLogin(svc, identityId, { tls, cert: true, sessOut: sessionFile });
      expect(first.session).toBe("New");
      expect(first.status).toBe(200);
      // The resumed handshake carries no Certificate message; the session carries the first one's.
      for (const cert of [false, true]) {
        const resumed = await opensslLogin(svc, identityId, { tls, cert, sessIn: sessionFile });
        expect(resumed.session).toBe("Reused");
        expect(resumed.status).toBe(200);
        expectToken(resumed.body);
      }
      const bareFile = join(files, `${runtime}${tls}-bare.session`);
      expect((await opensslLogin(svc, identityId, { tls, cert: false, sessOut: bareFile })).status).toBe(400);
      const bare = await opensslLogin(svc, identityId, { tls, cert: true, sessIn: bareFile });
      expect(bare.session).toBe("Reused");
      expect(bare.status).toBe(400);
    });
  }

  it("shuts down on SIGTERM with exit code 0", async () => {
    expect(await get().svc.stop()).toBe(0);
  });
});
