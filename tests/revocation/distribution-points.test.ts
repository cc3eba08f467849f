/**
 * useCrlDistributionPoints (PRODUCT.md §2.2) end to end: certificates name CRL distribution points on a local HTTP
 * server that serves CRLs the test makes; a login that needs one fetches it (once, shared by concurrent logins),
 * the service stores it for every instance and its refresher (driven directly, at a chosen time) keeps it fresh
 * or forgets it. On PGlite and PostgreSQL; two instances on one PostgreSQL fetch once.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import * as x509 from "../../src/pki/x509.ts";
import { MAX_STORED_PER_CONFIGURATION } from "../../src/revocation/distribution-points.ts";
import { MAX_URLS_PER_CERTIFICATE } from "../../src/pki/lib/distribution-points.ts";
import { MAX_URLS_PER_LOGIN } from "../../src/pki/rules/distribution-points.ts";
import { CrlServer } from "../helpers/crl-server.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { createTestDatabase, storageDrivers } from "../helpers/databases.ts";
import { bundle, makeCa, makeCrl, makeLeaf, type Issued } from "../fixtures/pki.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";
const HOUR = 3600 * 1000;

const dp = (...urls: string[]) => [new x509.CRLDistributionPointsExtension(urls)];
const tlsOf = (leaf: Issued, ...chain: Issued[]) => ({ cert: bundle(leaf, ...chain), key: leaf.keyPem });
const drivers = await storageDrivers();
const KEY_ENCRYPTION_KEY = "crl-dp-test-key-encryption-key-0123456789";

for (const driver of drivers) {
  describe(`useCrlDistributionPoints on ${driver}`, () => {
    let svc: RunningService;
    let orgId: string;
    const crls = new CrlServer();
    const root = makeCa({ subject: `CN=DP Root ${driver}` });

    const attach = async (body: Record<string, unknown>) => {
      const id = (await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId } })).json.identity.id as string;
      const res = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: (await root).pem, useCrlDistributionPoints: true, ...body } });
      expect(res.json.message).toBeUndefined();
      expect(res.json.identityTlsCertAuth.useCrlDistributionPoints).toBe(body.useCrlDistributionPoints ?? true);
      return id;
    };
    const config = async (id: string) => (await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`)).json.identityTlsCertAuth;
    const login = (identityId: string, leaf: Issued, ...chain: Issued[]) => svc.call(LOGIN, { body: { identityId }, ...tlsOf(leaf, ...chain) });
    const reasonOf = async (identityId: string, leaf: Issued, ...chain: Issued[]) => {
      const res = await login(identityId, leaf, ...chain);
      return res.status === 200 ? 200 : `${res.status} ${res.headers["x-certauth-reason"]}`;
    };
    /** Runs the refresher at a chosen time until nothing more is due (a round takes 16 rows at most). */
    const refreshAt = async (ms: number) => {
      const at = new Date(Date.now() + ms);
      let total = 0;
      for (let round; (round = await svc.service.crlRefresher.refreshDue(at)) > 0; ) total += round;
      return total;
    };

    beforeAll(async () => {
      await crls.start();
      svc = await startService(driver, { LOGIN_RATE_LIMIT: "0" });
      orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Acme", slug: "acme" } })).json.organization.id;
    }, 120_000);
    afterAll(async () => {
      await svc?.stop();
      crls.stop();
    });

    it("fetches the CRL of a distribution point at the first login that needs it, stores it, and refuses a serial it lists", async () => {
      const ca = await root;
      const url = crls.url("/a/root.crl");
      const good = await makeLeaf({ issuer: ca, cn: "good", extraExtensions: dp(url) });
      const revoked = await makeLeaf({ issuer: ca, cn: "revoked", extraExtensions: dp(url) });
      await crls.serve("/a/root.crl", ca, [revoked.serial]);
      const id = await attach({});
      expect((await config(id)).crlDistributionPointStatus).toEqual([]);
      expect(await reasonOf(id, good)).toBe(200);
      expect(await reasonOf(id, revoked)).toBe("401 certificate_revoked");
      expect(await reasonOf(id, good)).toBe(200);
      expect(crls.hits.get("/a/root.crl")).toBe(1);
      const stored = await config(id);
      expect(stored.crlDistributionPointStatus).toEqual([{ url, status: "ok", lastFetchedAt: expect.any(String), nextUpdate: expect.any(String) }]);
      expect(stored.crlUrlStatus).toEqual([]);
    });

    it("answers revocation_status_unavailable when no CRL can be had from the distribution points, and does not fetch again at once", async () => {
      const ca = await root;
      const missing = await makeLeaf({ issuer: ca, cn: "missing", extraExtensions: dp(crls.url("/b/missing.crl")) });
      crls.bodies.set("/b/junk.crl", new TextEncoder().encode("not a CRL"));
      const junk = await makeLeaf({ issuer: ca, cn: "junk", extraExtensions: dp(crls.url("/b/junk.crl")) });
      const id = await attach({});
      const out = await login(id, missing);
      expect(out.status).toBe(401);
      expect(out.headers["x-certauth-reason"]).toBe("revocation_status_unavailable");
      expect(out.json.message).toContain("answered HTTP 404");
      expect(await reasonOf(id, missing)).toBe("401 revocation_status_unavailable");
      expect(crls.hits.get("/b/missing.crl")).toBe(1);
      expect(await reasonOf(id, junk)).toBe("401 revocation_status_unavailable");
      expect((await config(id)).crlDistributionPointStatus).toEqual([]);
    });

    it("verifies a fetched CRL like an uploaded one: one the CA did not sign gives revocation_status_unavailable", async () => {
      const ca = await root;
      const impostor = await makeCa({ subject: `CN=DP Root ${driver}` });
      const url = await crls.serve("/c/forged.crl", ca, [], { signWith: impostor });
      const leaf = await makeLeaf({ issuer: ca, cn: "forged", extraExtensions: dp(url) });
      const id = await attach({});
      const out = await login(id, leaf);
      expect(out.headers["x-certauth-reason"]).toBe("revocation_status_unavailable");
      expect(out.json.message).toContain("does not verify with that CA's key");
    });

    it("takes the next distribution point when the first fails, and checks nothing when the field is off", async () => {
      const ca = await root;
      const url = await crls.serve("/d/root.crl", ca, []);
      const revokedUrl = await crls.serve("/d/revoked.crl", ca, []);
      const leaf = await makeLeaf({ issuer: ca, cn: "second", extraExtensions: dp(crls.url("/d/down.crl"), url) });
      expect(await reasonOf(await attach({}), leaf)).toBe(200);
      const listed = await makeLeaf({ issuer: ca, cn: "listed", extraExtensions: dp(revokedUrl) });
      await crls.serve("/d/revoked.crl", ca, [listed.serial]);
      const before = crls.requests;
      expect(await reasonOf(await attach({ useCrlDistributionPoints: false }), listed)).toBe(200);
      expect(crls.requests).toBe(before);
    });

    it("fetches nothing for a certificate that does not chain to a configured CA, whatever its distribution points say", async () => {
      const stranger = await makeCa({ subject: "CN=Stranger" });
      const leaf = await makeLeaf({ issuer: stranger, cn: "stranger", extraExtensions: dp(crls.url("/e/stranger.crl")) });
      const id = await attach({ verifyClientCertificateChain: true });
      expect(await reasonOf(id, leaf, stranger)).toBe("401 ca_verification_failed");
      expect(await reasonOf(await attach({}), leaf)).toBe("401 ca_verification_failed");
      expect(crls.hits.get("/e/stranger.crl")).toBeUndefined();
    });

    it("in chain mode checks the intermediate's CRL for the leaf and the root's CRL for the intermediate", async () => {
      const ca = await root;
      const rootUrl = crls.url("/f/root.crl");
      const interUrl = crls.url("/f/inter.crl");
      const inter = await makeCa({ subject: `CN=DP Inter ${driver}`, issuer: ca, extraExtensions: dp(rootUrl) });
      const revokedInter = await makeCa({ subject: `CN=DP Revoked Inter ${driver}`, issuer: ca, extraExtensions: dp(rootUrl) });
      const good = await makeLeaf({ issuer: inter, cn: "good", extraExtensions: dp(interUrl) });
      const revoked = await makeLeaf({ issuer: inter, cn: "revoked", extraExtensions: dp(interUrl) });
      const underRevoked = await makeLeaf({ issuer: revokedInter, cn: "under-revoked", extraExtensions: dp(await crls.serve("/f/revoked-inter.crl", revokedInter, [])) });
      await crls.serve("/f/root.crl", ca, [revokedInter.serial]);
      await crls.serve("/f/inter.crl", inter, [revoked.serial]);
      const id = await attach({ verifyClientCertificateChain: true });
      expect(await reasonOf(id, good, inter)).toBe(200);
      expect(await reasonOf(id, revoked, inter)).toBe("401 certificate_revoked");
      expect(await reasonOf(id, underRevoked, revokedInter)).toBe("401 certificate_revoked");
      const urls = (await config(id)).crlDistributionPointStatus.map((s: { url: string }) => s.url);
      expect(urls).toEqual([interUrl, crls.url("/f/revoked-inter.crl"), rootUrl].sort());
    });

    it("lets concurrent logins that need one never-fetched CRL share one fetch", async () => {
      const ca = await root;
      const url = await crls.serve("/g/root.crl", ca, []);
      const leaf = await makeLeaf({ issuer: ca, cn: "concurrent", extraExtensions: dp(url) });
      const id = await attach({});
      crls.delayMs = 300;
      try {
        const answers = await Promise.all(Array.from({ length: 8 }, () => reasonOf(id, leaf)));
        expect(answers).toEqual(Array(8).fill(200));
      } finally {
        crls.delayMs = 0;
      }
      expect(crls.hits.get("/g/root.crl")).toBe(1);
    });

    it("holds a login to its budget on a server that never answers, and the next login after the fetch gave up fetches again", async () => {
      const ca = await root;
      const leaf = await makeLeaf({ issuer: ca, cn: "silent", extraExtensions: dp(crls.url("/h/silent.crl")) });
      const id = await attach({});
      crls.silent = true;
      try {
        const out = await login(id, leaf);
        expect(out.headers["x-certauth-reason"]).toBe("revocation_status_unavailable");
        expect(out.json.message).toContain("no CRL within the login's 5 s");
        expect(crls.hits.get("/h/silent.crl")).toBe(1);
      } finally {
        crls.silent = false;
      }
    });

    it(`reads at most ${MAX_URLS_PER_CERTIFICATE} distribution point URLs per certificate and ${MAX_URLS_PER_LOGIN} per login`, async () => {
      const ca = await root;
      const many = Array.from({ length: 6 }, (_, i) => crls.url(`/i/missing-${i}.crl`));
      const leaf = await makeLeaf({ issuer: ca, cn: "many", extraExtensions: dp(...many) });
      const id = await attach({ verifyClientCertificateChain: true });
      expect(await reasonOf(id, leaf)).toBe("401 revocation_status_unavailable");
      expect(many.filter((u) => crls.hits.has(new URL(u).pathname))).toHaveLength(MAX_URLS_PER_CERTIFICATE);

      // Three certificates below the anchor, each with three dead points before a good one: 12 lookups needed.
      const rootUrl = await crls.serve("/i/root.crl", ca, []);
      const dead = (tag: string) => [1, 2, 3].map((n) => crls.url(`/i/dead-${tag}-${n}.crl`));
      const upper = await makeCa({ subject: "CN=DP Upper", issuer: ca, extraExtensions: dp(...dead("upper"), rootUrl) });
      const lower = await makeCa({ subject: "CN=DP Lower", issuer: upper, extraExtensions: dp(...dead("lower"), await crls.serve("/i/upper.crl", upper, [])) });
      const deep = await makeLeaf({ issuer: lower, cn: "deep", extraExtensions: dp(...dead("leaf"), await crls.serve("/i/lower.crl", lower, [])) });
      const before = crls.requests;
      const out = await login(id, deep, lower, upper);
      expect(out.headers["x-certauth-reason"]).toBe("revocation_status_unavailable");
      expect(out.json.message).toContain(`more than ${MAX_URLS_PER_LOGIN} distribution point URLs`);
      expect(crls.requests - before).toBeLessThanOrEqual(MAX_URLS_PER_LOGIN);
    });

    it(`stores at most ${MAX_STORED_PER_CONFIGURATION} distribution point CRLs per configuration, evicting the one needed least lately`, async () => {
      const ca = await root;
      const id = await attach({});
      const leaves: Issued[] = [];
      for (let i = 0; i <= MAX_STORED_PER_CONFIGURATION; i++) {
        const url = await crls.serve(`/j/shard-${i}.crl`, ca, []);
        leaves.push(await makeLeaf({ issuer: ca, cn: `shard-${i}`, extraExtensions: dp(url) }));
      }
      for (const leaf of leaves) expect(await reasonOf(id, leaf)).toBe(200);
      const stored = (await config(id)).crlDistributionPointStatus.map((s: { url: string }) => new URL(s.url).pathname);
      expect(stored).toHaveLength(MAX_STORED_PER_CONFIGURATION);
      expect(stored).not.toContain("/j/shard-0.crl");
      expect(stored).toContain(`/j/shard-${MAX_STORED_PER_CONFIGURATION}.crl`);
      // The evicted one is fetched again when needed.
      expect(await reasonOf(id, leaves[0]!)).toBe(200);
      expect(crls.hits.get("/j/shard-0.crl")).toBe(2);
    });

    it("refreshes a stored distribution point CRL like a CRL URL, and forgets one no login needed for a day", async () => {
      const ca = await root;
      const url = await crls.serve("/k/root.crl", ca, []);
      const leaf = await makeLeaf({ issuer: ca, cn: "refreshed", extraExtensions: dp(url) });
      const id = await attach({});
      expect(await reasonOf(id, leaf)).toBe(200);
      await crls.serve("/k/root.crl", ca, [leaf.serial]);
      expect(await refreshAt(2 * HOUR)).toBeGreaterThanOrEqual(1);
      expect(crls.hits.get("/k/root.crl")).toBe(2);
      expect(await reasonOf(id, leaf)).toBe("401 certificate_revoked");

      await refreshAt(25 * HOUR);
      expect((await config(id)).crlDistributionPointStatus).toEqual([]);
      expect(await reasonOf(id, leaf)).toBe("401 certificate_revoked");
      expect(crls.hits.get("/k/root.crl")).toBe(3);
    });

    it("PATCH keeps the stored distribution point CRLs, and drops them when the field is turned off or the CA changes", async () => {
      const ca = await root;
      const url = await crls.serve("/l/root.crl", ca, []);
      const leaf = await makeLeaf({ issuer: ca, cn: "patched", extraExtensions: dp(url) });
      const id = await attach({});
      expect(await reasonOf(id, leaf)).toBe(200);
      const path = `/api/v1/auth/tls-cert-auth/identities/${id}`;
      const current = await config(id);
      const { id: _id, identityId: _identityId, createdAt: _c, updatedAt: _u, ...body } = current;
      expect((await svc.admin(path, { method: "PATCH", body })).status).toBe(200);
      expect((await config(id)).crlDistributionPointStatus).toHaveLength(1);
      expect((await svc.admin(path, { method: "PATCH", body: { useCrlDistributionPoints: false } })).json.identityTlsCertAuth.crlDistributionPointStatus).toEqual([]);
      expect((await svc.admin(path, { method: "PATCH", body: { useCrlDistributionPoints: "yes" } })).status).toBe(422);
    });
  });
}

describe.if(drivers.includes("postgres"))("distribution points on two instances sharing one PostgreSQL", () => {
  const crls = new CrlServer();
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: RunningService;
  let b: RunningService;

  beforeAll(async () => {
    await crls.start();
    database = await createTestDatabase("postgres");
    a = await startService("postgres", { KEY_ENCRYPTION_KEY, LOGIN_RATE_LIMIT: "0" }, database);
    b = await startService("postgres", { KEY_ENCRYPTION_KEY, LOGIN_RATE_LIMIT: "0" }, database);
  }, 120_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await database?.drop();
    crls.stop();
  });

  it("fetches a distribution point CRL once for both, and both see it refreshed by one of them", async () => {
    const ca = await makeCa({ subject: "CN=Shared DP Root" });
    const url = await crls.serve("/shared.crl", ca, []);
    const good = await makeLeaf({ issuer: ca, cn: "good", extraExtensions: dp(url) });
    const revoked = await makeLeaf({ issuer: ca, cn: "revoked", extraExtensions: dp(url) });
    const orgId = (await a.admin("/api/v1/organizations", { body: { name: "Shared", slug: "shared" } })).json.organization.id;
    const id = (await a.admin("/api/v1/identities", { body: { name: "shared", organizationId: orgId } })).json.identity.id;
    expect((await a.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: ca.pem, useCrlDistributionPoints: true } })).status).toBe(200);
    const status = async (instance: RunningService, leaf: Issued) => {
      const out = await instance.call(LOGIN, { body: { identityId: id }, ...tlsOf(leaf) });
      return out.status === 200 ? 200 : out.headers["x-certauth-reason"];
    };
    expect(await status(a, good)).toBe(200);
    expect(await status(b, good)).toBe(200);
    expect(crls.requests).toBe(1);

    await crls.serve("/shared.crl", ca, [revoked.serial]);
    const at = new Date(Date.now() + 2 * HOUR);
    const fetched = await Promise.all([a.service.crlRefresher.refreshDue(at), b.service.crlRefresher.refreshDue(at)]);
    expect(fetched.reduce((x, y) => x + y)).toBe(1);
    expect(crls.requests).toBe(2);
    for (const instance of [a, b]) expect(await status(instance, revoked)).toBe("certificate_revoked");
  });
});
