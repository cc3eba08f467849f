/**
 * A CRL that cannot be decoded now because the decoder is at capacity is not a bad request: attach answers 503
 * with Retry-After, stores nothing, and the same request succeeds once the queue has drained.
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
import { makeCa, makeCrl, makeCrlDer } from "../fixtures/pki.ts";

const ADMIN_TOKEN = "busy-test-admin-token-0123456789abcdefghij";
const serials = (count: number, from: number) => Array.from({ length: count }, (_, i) => (from + i).toString(16));

let dataDir: string;
let service: Service;
let decoding: CrlDecoding;
let app: App;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "certauth-busy-"));
  service = await bootstrap({ DATA_DIR: dataDir, DATABASE_URL: "memory://", ADMIN_TOKEN, LOG_LEVEL: "silent" }, () => {});
  const metrics = new Metrics();
  // Every CRL goes to the worker, and one may wait while another is decoded.
  decoding = new CrlDecoding(metrics, { workerFromBytes: 0, queueLimit: 1 });
  app = createApp({
    config: service.config,
    database: service.database,
    signer: service.signer,
    clock: () => new Date(),
    adminTokenHash: await sha256(ADMIN_TOKEN),
    log: createLogger("silent", () => {}, "json"),
    metrics,
    crlSource: new CrlSource(service.config.REVOCATION_FETCH_ALLOWED_HOSTS, service.config.CRL_REFRESH_INTERVAL, metrics, decoding),
  });
});

afterAll(async () => {
  decoding.close();
  await service.database.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const admin = (path: string, method = "GET", json?: unknown) =>
  app.fetch(
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

    // One large CRL being decoded and one waiting: the queue (of one) is full.
    const large = [await makeCrlDer({ issuer: ca, revoked: serials(20_000, 0x10000) }), await makeCrlDer({ issuer: ca, revoked: serials(20_000, 0x90000) })];
    const [running, waiting] = large.map((der) => decoding.decode(der));
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
