/**
 * A large CRL (36,000 entries, just under the 1 MiB a fetched CRL may have) against a running service: logins on the same service are answered while
 * an attach decodes it, and the same bytes are not decoded again — not by the login that compiles the configuration,
 * a refresh that fetches them unchanged, nor a PATCH that moves the configuration's version.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startService, type RunningService } from "../helpers/service.ts";
import { bundle, makeCa, makeCrlDer, makeLeaf, type Issued } from "../fixtures/pki.ts";
import { MAX_CRL_BYTES } from "../../src/revocation/fetch.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";
const ENTRIES = 36_000;

const root = await makeCa({ subject: "CN=Large CRL Root" });
const listed = await makeLeaf({ issuer: root, cn: "listed" });
const good = await makeLeaf({ issuer: root, cn: "good" });
const other = await makeCa({ subject: "CN=Login Stream Root" });
const streamer = await makeLeaf({ issuer: other, cn: "streamer" });
const serials = Array.from({ length: ENTRIES }, (_, i) => (0x7000000 + i).toString(16));
const der = await makeCrlDer({ issuer: root, revoked: [...serials, listed.serial] });

/** Serves the CRL, noting when its last byte went out. */
let sentAt = 0;
const server: Server = createServer((req, res) => {
  // One byte over the cap: refused by its size, before anything decodes it.
  if (req.url === "/too-large.crl") return res.writeHead(200, { "content-type": "application/pkix-crl" }).end(new Uint8Array(MAX_CRL_BYTES + 1));
  res.on("finish", () => (sentAt = performance.now()));
  res.writeHead(200, { "content-type": "application/pkix-crl" }).end(der);
});

describe("a large CRL", () => {
  let svc: RunningService;
  let url: string;
  let orgId: string;
  const tlsOf = (leaf: Issued) => ({ cert: bundle(leaf), key: leaf.keyPem });
  const login = (identityId: string, leaf: Issued) => svc.call(LOGIN, { body: { identityId }, ...tlsOf(leaf) });
  const identity = async () => (await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId } })).json.identity.id as string;
  const decodes = async () => {
    const text: string = (await svc.call("/metrics")).text;
    return Number(text.match(/^certauth_crl_decodes_total\{thread="worker"\} (\d+)$/m)?.[1] ?? 0);
  };

  beforeAll(async () => {
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/large.crl`;
    svc = await startService("pglite", { LOGIN_RATE_LIMIT: "0", REVOCATION_FETCH_ALLOWED_HOSTS: "127.0.0.1" });
    orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Large", slug: "large" } })).json.organization.id;
  }, 120_000);
  afterAll(async () => {
    await svc?.stop();
    server.close();
  });

  it("is decoded in the worker while logins on the same service keep being answered", async () => {
    const streamId = await identity();
    expect((await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${streamId}`, { body: { caCertificate: other.pem } })).status).toBe(200);
    expect((await login(streamId, streamer)).status).toBe(200);
    const id = await identity();
    let attached = false;
    const attach = svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: root.pem, crlUrls: [url] } }).finally(() => (attached = true));
    // Logins sent after the CRL's last byte left its server, answered before the attach returned: the decode did not hold them.
    let answeredWhileDecoding = 0;
    while (!attached) {
      const started = performance.now();
      const res = await login(streamId, streamer);
      expect(res.status).toBe(200);
      if (sentAt && started > sentAt && !attached) answeredWhileDecoding++;
    }
    const res = await attach;
    expect(res.json.message).toBeUndefined();
    expect(res.status).toBe(200);
    expect(answeredWhileDecoding).toBeGreaterThanOrEqual(3);
    expect(await decodes()).toBe(1);
    expect((await login(id, listed)).headers["x-certauth-reason"]).toBe("certificate_revoked");
    expect((await login(id, good)).status).toBe(200);
    // The login compiled the configuration from the stored bytes: found decoded by their content.
    expect(await decodes()).toBe(1);
  }, 60_000);

  it("is at most 1 MiB: one byte more is refused at attach, naming the URL, since decoding costs about 240 bytes of memory per byte", async () => {
    expect(der.length).toBeLessThanOrEqual(MAX_CRL_BYTES);
    expect(MAX_CRL_BYTES).toBe(1024 * 1024);
    const tooLarge = url.replace("/large.crl", "/too-large.crl");
    const res = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${await identity()}`, { body: { caCertificate: root.pem, crlUrls: [tooLarge] } });
    expect(res.status).toBe(400);
    expect(res.json.message).toContain(tooLarge);
    expect(res.json.message).toContain(`larger than ${MAX_CRL_BYTES} bytes`);
  }, 60_000);

  it("is not decoded again by a refresh that fetches the same bytes, nor by a new configuration version", async () => {
    const before = await decodes();
    const id = await identity();
    expect((await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: root.pem, crlUrls: [url] } })).status).toBe(200);
    expect(await svc.service.crlRefresher.refreshDue(new Date(Date.now() + 48 * 3600_000))).toBeGreaterThanOrEqual(1);
    const [status] = (await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`)).json.identityTlsCertAuth.crlUrlStatus;
    expect(status.status).toBe("ok");
    const patched = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { method: "PATCH", body: { allowedCommonNames: "good,listed" } });
    expect(patched.status).toBe(200);
    expect((await login(id, listed)).headers["x-certauth-reason"]).toBe("certificate_revoked");
    expect((await login(id, good)).status).toBe(200);
    expect(await decodes()).toBe(before);
  }, 60_000);
});
