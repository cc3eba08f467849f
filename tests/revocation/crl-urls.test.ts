/**
 * crlUrls (PRODUCT.md §2.2) end to end: a local HTTP server serves CRLs the test makes; the service fetches them at
 * attach, checks them at login over real mutual TLS, and its refresher (driven directly, at a chosen time) fetches
 * them again. On PGlite and PostgreSQL; two instances on one PostgreSQL fetch once per interval.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { CrlServer } from "../helpers/crl-server.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { createTestDatabase, storageDrivers } from "../helpers/databases.ts";
import { bundle, makeCa, makeCrl, makeLeaf, type Issued } from "../fixtures/pki.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";
const HOUR = 3600 * 1000;

const root = await makeCa({ subject: "CN=CRL URL Root" });
const revoked = await makeLeaf({ issuer: root, cn: "revoked" });
const good = await makeLeaf({ issuer: root, cn: "good" });
const tlsOf = (leaf: Issued) => ({ cert: bundle(leaf), key: leaf.keyPem });

const drivers = await storageDrivers();
const KEY_ENCRYPTION_KEY = "crl-url-test-key-encryption-key-0123456789";

for (const driver of drivers) {
  describe(`crlUrls on ${driver}`, () => {
    let svc: RunningService;
    let orgId: string;
    const crls = new CrlServer();

    const newIdentity = async () =>
      (await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId } })).json.identity.id as string;
    const configPath = (id: string) => `/api/v1/auth/tls-cert-auth/identities/${id}`;
    const login = (identityId: string, leaf: Issued) => svc.call(LOGIN, { body: { identityId }, ...tlsOf(leaf) });
    const refreshAt = (ms: number) => svc.service.crlRefresher.refreshDue(new Date(Date.now() + ms));

    beforeAll(async () => {
      await crls.start();
      svc = await startService(driver, { LOGIN_RATE_LIMIT: "0" });
      orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Acme", slug: "acme" } })).json.organization.id;
    }, 120_000);
    afterAll(async () => {
      await svc?.stop();
      crls.stop();
    });

    it("fetches the CRL at attach and refuses a serial it lists with certificate_revoked", async () => {
      const url = await crls.serve(`/${driver}/a.crl`, root, [revoked.serial]);
      const id = await newIdentity();
      const res = await svc.admin(configPath(id), { body: { caCertificate: root.pem, crlUrls: [url] } });
      expect(res.json.message).toBeUndefined();
      expect(res.status).toBe(200);
      expect(res.json.identityTlsCertAuth.crlUrls).toEqual([url]);
      const out = await login(id, revoked);
      expect(out.status).toBe(401);
      expect(out.headers["x-certauth-reason"]).toBe("certificate_revoked");
      expect((await login(id, good)).status).toBe(200);
      const [status] = (await svc.admin(configPath(id))).json.identityTlsCertAuth.crlUrlStatus;
      expect(status).toEqual({ url, status: "ok", lastFetchedAt: expect.any(String), nextUpdate: expect.any(String) });
    });

    it("refuses an unreachable URL or a body that is not a CRL with a 400 naming the URL", async () => {
      const id = await newIdentity();
      const gone = `${crls.base}/${driver}/missing.crl`;
      const missing = await svc.admin(configPath(id), { body: { caCertificate: root.pem, crlUrls: [gone] } });
      expect(missing.status).toBe(400);
      expect(missing.json.message).toBe(`The CRL at ${gone} could not be fetched: it answered HTTP 404.`);
      const closed = await svc.admin(configPath(id), { body: { caCertificate: root.pem, crlUrls: ["http://127.0.0.1:1/ca.crl"] } });
      expect(closed.status).toBe(400);
      expect(closed.json.message).toStartWith("The CRL at http://127.0.0.1:1/ca.crl could not be fetched: ");
      crls.bodies.set(`/${driver}/junk.crl`, new TextEncoder().encode("not a CRL"));
      const junk = `${crls.base}/${driver}/junk.crl`;
      const notCrl = await svc.admin(configPath(id), { body: { caCertificate: root.pem, crlUrls: [junk] } });
      expect(notCrl.status).toBe(400);
      expect(notCrl.json.message).toBe(`CRL ${junk} could not be decoded as an X.509 CRL.`);
      const metadata = await svc.admin(configPath(id), { body: { caCertificate: root.pem, crlUrls: ["http://169.254.169.254/crl"] } });
      expect(metadata.status).toBe(400);
      expect(metadata.json.message).toContain("http://169.254.169.254/crl could not be fetched");
    });

    it("refuses a fetched CRL that the configured CA did not sign, exactly like an uploaded one", async () => {
      const other = await makeCa({ subject: "CN=CRL URL Root" });
      crls.bodies.set(`/${driver}/forged.crl`, (await makeCrl({ issuer: other, revoked: [] })).der);
      const forged = `${crls.base}/${driver}/forged.crl`;
      const res = await svc.admin(configPath(await newIdentity()), { body: { caCertificate: root.pem, crlUrls: [forged] } });
      expect(res.status).toBe(400);
      expect(res.json.message).toContain(`CRL ${forged} names the configured CA`);
    });

    it("applies a changed CRL after a refresh, and keeps the stored one on 304", async () => {
      const url = await crls.serve(`/${driver}/b.crl`, root, []);
      const id = await newIdentity();
      expect((await svc.admin(configPath(id), { body: { caCertificate: root.pem, crlUrls: [url] } })).status).toBe(200);
      expect((await login(id, good)).status).toBe(200);

      // Unchanged: a conditional fetch answers 304 and nothing changes.
      const before = crls.requests;
      expect(await refreshAt(2 * HOUR)).toBeGreaterThanOrEqual(1);
      expect(crls.requests).toBeGreaterThan(before);
      const [unchanged] = (await svc.admin(configPath(id))).json.identityTlsCertAuth.crlUrlStatus;
      expect(unchanged.status).toBe("not_modified");
      expect((await login(id, good)).status).toBe(200);

      await crls.serve(`/${driver}/b.crl`, root, [good.serial]);
      expect(await refreshAt(4 * HOUR)).toBeGreaterThanOrEqual(1);
      const out = await login(id, good);
      expect(out.status).toBe(401);
      expect(out.headers["x-certauth-reason"]).toBe("certificate_revoked");
      const metrics = (await svc.call("/metrics")).text;
      expect(metrics).toMatch(/certauth_revocation_fetches_total\{kind="crl",result="not_modified"\} [1-9]/);
      expect(metrics).toMatch(/certauth_crl_next_update_seconds -?\d+/);
    });

    it("keeps the last good CRL while the server is down, and fails closed with crl_expired past its nextUpdate", async () => {
      const url = await crls.serve(`/${driver}/c.crl`, root, [], { nextUpdate: new Date(Date.now() + 1500) });
      const id = await newIdentity();
      expect((await svc.admin(configPath(id), { body: { caCertificate: root.pem, crlUrls: [url] } })).status).toBe(200);
      crls.down = true;
      try {
        expect(await refreshAt(6 * HOUR)).toBeGreaterThanOrEqual(1);
        const [status] = (await svc.admin(configPath(id))).json.identityTlsCertAuth.crlUrlStatus;
        expect(status.status).toStartWith("failed: ");
        await Bun.sleep(1600);
        const out = await login(id, good);
        expect(out.status).toBe(401);
        expect(out.headers["x-certauth-reason"]).toBe("crl_expired");
      } finally {
        crls.down = false;
      }
    });
  });
}

describe.if(drivers.includes("postgres"))("two instances on one PostgreSQL", () => {
  const crls = new CrlServer();
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: RunningService;
  let b: RunningService;

  beforeAll(async () => {
    await crls.start();
    database = await createTestDatabase("postgres");
    a = await startService("postgres", { KEY_ENCRYPTION_KEY }, database);
    b = await startService("postgres", { KEY_ENCRYPTION_KEY }, database);
  }, 120_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await database?.drop();
    crls.stop();
  });

  it("fetches each CRL once per interval between them, and both see the new CRL", async () => {
    const orgId = (await a.admin("/api/v1/organizations", { body: { name: "Shared", slug: "shared" } })).json.organization.id;
    const id = (await a.admin("/api/v1/identities", { body: { name: "shared", organizationId: orgId } })).json.identity.id;
    const url = await crls.serve("/shared.crl", root, []);
    expect((await a.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: root.pem, crlUrls: [url] } })).status).toBe(200);
    expect(crls.requests).toBe(1);
    await crls.serve("/shared.crl", root, [good.serial]);

    const at = new Date(Date.now() + 2 * HOUR);
    const fetched = await Promise.all([a.service.crlRefresher.refreshDue(at), b.service.crlRefresher.refreshDue(at), b.service.crlRefresher.refreshDue(at)]);
    expect(fetched.reduce((x, y) => x + y)).toBe(1);
    expect(crls.requests).toBe(2);

    for (const instance of [a, b]) {
      const out = await instance.call(LOGIN, { body: { identityId: id }, ...tlsOf(good) });
      expect(out.headers["x-certauth-reason"]).toBe("certificate_revoked");
    }
  });
});
