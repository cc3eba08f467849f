/**
 * A CRL that cannot be decoded now because the decoder is at capacity is not a bad request: attach answers 503
 * with Retry-After, stores nothing, and the same request succeeds once the queue has drained. The queue is
 * shared fairly between tenants (root organizations): one tenant's CRLs cannot keep another's attach or login
 * out, and a login whose configuration cannot be compiled now answers 503 too, never a 500 or a token.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256 } from "../../src/admin/auth.ts";
import { createApp, type App } from "../../src/app.ts";
import { createLogger } from "../../src/log.ts";
import { Metrics } from "../../src/metrics/registry.ts";
import { CrlDecoding } from "../../src/revocation/crl-decoding.ts";
import { CrlSource } from "../../src/revocation/crls.ts";
import { bootstrap, type Service } from "../../src/server/bootstrap.ts";
import * as x509 from "../../src/pki/x509.ts";
import { CrlRefresher } from "../../src/revocation/refresher.ts";
import { createLogin } from "../../src/login/login.ts";
import { TrustCache } from "../../src/pki/index.ts";
import { AppError } from "../../src/errors.ts";
import { makeCa, makeCrl, makeCrlDer, makeLeaf } from "../fixtures/pki.ts";
import { CrlServer } from "../helpers/crl-server.ts";

const ADMIN_TOKEN = "busy-test-admin-token-0123456789abcdefghij";
const serials = (count: number, from: number) => Array.from({ length: count }, (_, i) => (from + i).toString(16));

let dataDir: string;
let service: Service;
let decoding: CrlDecoding;
let app: App;
/** Every CRL goes to the worker, decoded CRLs are not kept (so a login's compilation decodes again), two may wait, one per tenant. */
let fairDecoding: CrlDecoding;
let fairApp: App;
let fairMetrics: Metrics;
let fairSource: CrlSource;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "certauth-busy-"));
  service = await bootstrap({ DATA_DIR: dataDir, DATABASE_URL: "memory://", ADMIN_TOKEN, LOG_LEVEL: "silent", LOGIN_RATE_LIMIT: "0" }, () => {});
  const appWith = async (limits: ConstructorParameters<typeof CrlDecoding>[1]) => {
    const metrics = new Metrics();
    const crlDecoding = new CrlDecoding(metrics, limits);
    const crlSource = new CrlSource(service.config.REVOCATION_FETCH_ALLOWED_HOSTS, service.config.CRL_REFRESH_INTERVAL, metrics, crlDecoding);
    const built = createApp({
      config: service.config,
      database: service.database,
      signer: service.signer,
      clock: () => new Date(),
      adminTokenHash: await sha256(ADMIN_TOKEN),
      log: createLogger("silent", () => {}, "json"),
      metrics,
      crlSource,
    });
    return [crlDecoding, built, metrics, crlSource] as const;
  };
  // Every CRL goes to the worker, and one may wait while another is decoded.
  [decoding, app] = await appWith({ workerFromBytes: 0, queueLimit: 1 });
  [fairDecoding, fairApp, fairMetrics, fairSource] = await appWith({ workerFromBytes: 0, queueLimit: 2, tenantQueueLimit: 1, cacheBytes: 0 });
});

afterAll(async () => {
  decoding.close();
  fairDecoding.close();
  await service.database.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const admin = (path: string, method = "GET", json?: unknown, to: App = app) =>
  to.fetch(
    new Request(`https://localhost${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(json === undefined ? {} : { "content-type": "application/json" }) },
      body: json === undefined ? undefined : JSON.stringify(json),
    }),
    { peer: { remoteAddress: "127.0.0.1", certificateChain: [] } },
  );

describe("a CRL the decoder has no room for", () => {
  it("is a 503 with Retry-After at attach, stores nothing, and attaches once the queue has drained", async () => {
    const ca = await makeCa({ subject: "CN=Busy CA" });
    const crl = await makeCrl({ issuer: ca, revoked: serials(10, 0x100) });
    const org = (await (await admin("/api/v1/organizations", "POST", { name: "Busy", slug: "busy" })).json()) as any;
    const identity = (await (await admin("/api/v1/identities", "POST", { name: "busy", organizationId: org.organization.id })).json()) as any;
    const path = `/api/v1/auth/tls-cert-auth/identities/${identity.identity.id}`;
    const settings = { caCertificate: ca.pem, crls: crl.pem };

    // One large CRL of this organization being decoded and one waiting: the queue (of one) is full, and this
    // organization already has its place in it.
    const large = [await makeCrlDer({ issuer: ca, revoked: serials(20_000, 0x10000) }), await makeCrlDer({ issuer: ca, revoked: serials(20_000, 0x90000) })];
    const [running, waiting] = large.map((der) => decoding.decoderFor(org.organization.rootOrgId)(der));
    const refused = await admin(path, "POST", settings);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    const body = (await refused.json()) as { error: string; message: string };
    expect(body.error).toBe("ServiceUnavailable");
    expect(body.message).toBe("CRL #1 could not be decoded now: 1 CRLs are waiting to be decoded; try again later.");
    expect((await admin(path)).status).toBe(404);

    await Promise.all([running, waiting]);
    const attached = await admin(path, "POST", settings);
    expect(attached.status).toBe(200);
    expect((await admin(path)).status).toBe(200);
  }, 60_000);

  it("is still a 400 when the CRL itself is bad, whatever the queue", async () => {
    const ca = await makeCa({ subject: "CN=Busy CA 2" });
    const org = (await (await admin("/api/v1/organizations", "POST", { name: "Busy 2", slug: "busy-2" })).json()) as any;
    const identity = (await (await admin("/api/v1/identities", "POST", { name: "busy-2", organizationId: org.organization.id })).json()) as any;
    const junk = `-----BEGIN X509 CRL-----\n${Buffer.from(new Uint8Array(64).fill(0x30)).toString("base64")}\n-----END X509 CRL-----\n`;
    const answer = await admin(`/api/v1/auth/tls-cert-auth/identities/${identity.identity.id}`, "POST", { caCertificate: ca.pem, crls: junk });
    expect(answer.status).toBe(400);
  });
});

const fairAdmin = (path: string, method = "GET", json?: unknown) => admin(path, method, json, fairApp);
/** A root organization of its own (a tenant), an identity in it, and a CA for its configuration. */
const tenant = async (slug: string) => {
  const org = ((await (await fairAdmin("/api/v1/organizations", "POST", { name: slug, slug })).json()) as any).organization;
  const identity = ((await (await fairAdmin("/api/v1/identities", "POST", { name: slug, organizationId: org.id })).json()) as any).identity;
  const ca = await makeCa({ subject: `CN=${slug} CA` });
  return { rootOrgId: org.rootOrgId as string, identityId: identity.id as string, ca, path: `/api/v1/auth/tls-cert-auth/identities/${identity.id}` };
};
/** A login to the fair app as `identityId`, presenting `leaf`. */
const loginTo = (identityId: string, leaf: { der: Uint8Array }) =>
  fairApp.fetch(
    new Request("https://localhost/api/v1/auth/tls-cert-auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ identityId }),
    }),
    { peer: { remoteAddress: "127.0.0.1", certificateChain: [leaf.der] } },
  );

/** Large CRLs decoded for these tenants, queued at once; what settles once the worker is done with them. */
const hold = async (...tenants: string[]) => {
  const ca = await makeCa({ subject: "CN=Held" });
  const ders = await Promise.all(tenants.map((_, i) => makeCrlDer({ issuer: ca, revoked: serials(20_000, 0x100000 * (i + 1)) })));
  return { done: Promise.all(tenants.map((rootOrgId, i) => fairDecoding.decoderFor(rootOrgId)(ders[i]!))) };
};

describe("the decoder's queue, shared between tenants", () => {

  it("refuses a tenant past its places while another tenant's attach and PATCH still get in and succeed", async () => {
    const [a, b] = [await tenant("fair-a"), await tenant("fair-b")];
    const small = async (t: typeof a) => ({ caCertificate: t.ca.pem, crls: (await makeCrl({ issuer: t.ca, revoked: serials(10, 0x100) })).pem });
    expect((await fairAdmin(a.path, "POST", await small(a))).status).toBe(200);
    // One of a's is decoded, one waits: a has no place left, the queue has one.
    const held = await hold(a.rootOrgId, a.rootOrgId);
    const refused = await fairAdmin(a.path, "PATCH", await small(a));
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(((await refused.json()) as { message: string }).message).toBe(
      "CRL #1 could not be decoded now: 1 CRLs of this organization are waiting to be decoded; try again later.",
    );
    expect((await fairAdmin(b.path, "POST", await small(b))).status).toBe(200);
    expect((await fairAdmin(b.path, "PATCH", await small(b))).status).toBe(200);
    await held.done;
  }, 60_000);

  it("answers a login whose configuration cannot be compiled now 503 with Retry-After, and logs it in once there is room", async () => {
    const [a, b] = [await tenant("fair-c"), await tenant("fair-d")];
    const crl = await makeCrl({ issuer: b.ca, revoked: serials(10, 0x100) });
    expect((await fairAdmin(b.path, "POST", { caCertificate: b.ca.pem, crls: crl.pem })).status).toBe(200);
    const leaf = await makeLeaf({ issuer: b.ca, cn: "fair-login" });
    const login = () => loginTo(b.identityId, leaf);
    // Another tenant's CRL is decoded and one of b's waits: b has no place left when its first login must
    // compile its CRL.
    const held = await hold(a.rootOrgId, b.rootOrgId);
    const refused = await login();
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    const body = (await refused.json()) as { message: string; accessToken?: string };
    expect(body.accessToken).toBeUndefined();
    // Not the decoder's own sentence: how many CRLs wait is none of an unauthenticated client's business.
    expect(body.message).toBe("The identity's TLS cert auth could not be loaded now: its CRLs are waiting to be decoded; try again later.");
    // Counted as the service at capacity, not as the database down.
    expect(fairMetrics.logins.get("failure", "busy")).toBe(1);
    expect(fairMetrics.logins.get("failure", "database_unavailable")).toBe(0);
    await held.done;
    const answered = await login();
    expect(answered.status).toBe(200);
    expect(((await answered.json()) as { accessToken: string }).accessToken).toBeString();
  }, 60_000);
});

describe("a refresh of a tenant's CRL URL", () => {
  it("takes the tenant's place in the decoder's queue: refused while the tenant has none left, fetched again once it has", async () => {
    const crls = new CrlServer();
    await crls.start();
    try {
      const { rootOrgId, ca, path } = await tenant("fair-refresh");
      const url = await crls.serve("/refresh.crl", ca, serials(10, 0x100));
      expect((await fairAdmin(path, "POST", { caCertificate: ca.pem, crlUrls: [url] })).status).toBe(200);
      const status = async () => ((await (await fairAdmin(path)).json()) as any).identityTlsCertAuth.crlUrlStatus[0].status;
      // A newer list at the URL, to be decoded at the refresh.
      await crls.serve("/refresh.crl", ca, serials(20, 0x100), { thisUpdate: new Date(Date.now() - 3_600_000) });
      const refresher = new CrlRefresher(service.database.db, fairSource, createLogger("silent", () => {}, "json"));

      // Another tenant's CRL is decoded and one of this tenant's waits: this tenant has no place left.
      const held = await hold("another tenant", rootOrgId);
      expect(await refresher.refreshDue(new Date(Date.now() + 2 * 3_600_000))).toBe(1);
      expect(await status()).toBe("failed: CRL " + url + " could not be decoded now: 1 CRLs of this organization are waiting to be decoded; try again later.");
      await held.done;
      expect(await refresher.refreshDue(new Date(Date.now() + 4 * 3_600_000))).toBe(1);
      expect(await status()).toBe("ok");
    } finally {
      crls.stop();
    }
  }, 60_000);
});

describe("a distribution point's CRL while its tenant has no room in the decoder", () => {
  it("refuses that login only: the next one, once there is room, fetches and decodes it", async () => {
    const crls = new CrlServer();
    await crls.start();
    try {
      const { rootOrgId, identityId, ca, path } = await tenant("fair-dp");
      const url = await crls.serve("/dp.crl", ca, serials(10, 0x100));
      expect((await fairAdmin(path, "POST", { caCertificate: ca.pem, useCrlDistributionPoints: true })).status).toBe(200);
      const leaf = await makeLeaf({ issuer: ca, cn: "dp-busy", extraExtensions: [new x509.CRLDistributionPointsExtension([url])] });
      const login = () => loginTo(identityId, leaf);

      // Another tenant's CRL is decoded and one of this tenant's waits: no place for the distribution point's CRL.
      const held = await hold("another tenant", rootOrgId);
      const refused = await login();
      expect(refused.status).toBe(401);
      expect(refused.headers.get("x-certauth-reason")).toBe("revocation_status_unavailable");
      // Nothing was fetched that could not be decoded.
      expect(crls.hits.get("/dp.crl") ?? 0).toBe(0);
      await held.done;
      // Not remembered as a failed distribution point: the next login fetches it at once.
      expect((await login()).status).toBe(200);
      expect(crls.hits.get("/dp.crl")).toBe(1);
    } finally {
      crls.stop();
    }
  }, 60_000);
});

describe("a login whose configuration takes long to compile", () => {
  it("answers 503 with Retry-After once its wait is over, and the compilation goes on for the next login", async () => {
    const { identityId, ca, path } = await tenant("fair-late");
    const crl = await makeCrl({ issuer: ca, revoked: serials(10, 0x100) });
    expect((await fairAdmin(path, "POST", { caCertificate: ca.pem, crls: crl.pem })).status).toBe(200);
    const leaf = await makeLeaf({ issuer: ca, cn: "late" });
    const login = createLogin({
      db: service.database.db,
      config: service.config,
      signer: service.signer,
      clock: () => new Date(),
      trustCache: new TrustCache(undefined, fairDecoding.decode),
      decoderFor: (tenant) => fairDecoding.decoderFor(tenant),
      compileBudgetMs: 50,
    });
    const attempt = () => login({ identityId, chain: () => [leaf.der], clientIp: "127.0.0.1" });

    // Another tenant's large CRL is in the worker: this configuration's CRL waits its turn, longer than 50 ms.
    const held = await hold("another tenant");
    const late = await attempt().catch((err: unknown) => err);
    expect(late).toBeInstanceOf(AppError);
    expect((late as AppError).statusCode).toBe(503);
    expect((late as AppError).options.headers?.["retry-after"]).toBe("5");
    expect((late as AppError).message).toBe("The identity's TLS cert auth could not be loaded in time: its CRLs are still being decoded; try again later.");
    await held.done;
    // The compilation went on: once it is done, a login finds it compiled.
    let answer;
    for (let tries = 0; !answer && tries < 100; tries++) {
      answer = await attempt().catch((err: unknown) => {
        if (err instanceof AppError && err.statusCode === 503) return new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 50));
        throw err;
      });
    }
    expect(answer?.accessToken).toBeString();
  }, 60_000);
});
