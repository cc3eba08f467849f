/**
 * What operators see of revocation: certauth_crl_next_update_seconds over every CRL in use (uploaded, from a URL,
 * from a distribution point), and the warning when a CRL nears or passes its nextUpdate while its refresh fails,
 * written once per CRL and state. A local HTTP server serves the CRLs; the refresher runs at chosen times.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as x509 from "../../src/pki/x509.ts";
import { createLogger } from "../../src/log.ts";
import { CrlSource, crlSourceFor } from "../../src/revocation/crls.ts";
import { Metrics } from "../../src/metrics/registry.ts";
import { CrlServer } from "../helpers/crl-server.ts";
import { CrlRefresher } from "../../src/revocation/refresher.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { createPostgresDatabase, embeddedDatabase, rowsOf, storageDrivers } from "../helpers/databases.ts";
import { bundle, makeCa, makeCrl, makeLeaf } from "../fixtures/pki.ts";

const HOUR = 3600 * 1000;
const drivers = await storageDrivers();

for (const driver of drivers) {
  describe(`revocation visibility on ${driver}`, () => {
    let svc: RunningService;
    let orgId: string;
    let server: Server;
    let base = "";
    let down = false;
    const bodies = new Map<string, Uint8Array>();

    const attach = async (body: Record<string, unknown>) => {
      const id = (await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId } })).json.identity.id as string;
      const res = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body });
      expect(res.json.message).toBeUndefined();
      return id;
    };
    const nextUpdateGauge = async () => Number(/^certauth_crl_next_update_seconds (-?\d+)$/m.exec((await svc.call("/metrics")).text)?.[1]);

    beforeAll(async () => {
      server = createServer((req, res) => {
        if (down) return req.socket.destroy();
        const body = bodies.get(req.url ?? "");
        return body ? res.writeHead(200).end(body) : res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      svc = await startService(driver, { LOGIN_RATE_LIMIT: "0" });
      orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Acme", slug: "acme" } })).json.organization.id;
    }, 120_000);
    afterAll(async () => {
      await svc?.stop();
      server?.closeAllConnections();
      server?.close();
    });

    it("certauth_crl_next_update_seconds is the soonest nextUpdate of uploaded, URL and distribution point CRLs", async () => {
      const ca = await makeCa({ subject: `CN=Visibility ${driver}` });
      const now = Date.now();
      expect(await nextUpdateGauge()).toBeNaN();
      await attach({ caCertificate: ca.pem, crls: (await makeCrl({ issuer: ca, nextUpdate: new Date(now + 48 * HOUR) })).pem });
      expect(Math.abs((await nextUpdateGauge()) - 48 * 3600)).toBeLessThan(120);

      bodies.set("/url.crl", (await makeCrl({ issuer: ca, nextUpdate: new Date(now + 24 * HOUR) })).der);
      await attach({ caCertificate: ca.pem, crlUrls: [`${base}/url.crl`] });
      expect(Math.abs((await nextUpdateGauge()) - 24 * 3600)).toBeLessThan(120);

      bodies.set("/dp.crl", (await makeCrl({ issuer: ca, nextUpdate: new Date(now + 12 * HOUR) })).der);
      const leaf = await makeLeaf({ issuer: ca, cn: "dp", extraExtensions: [new x509.CRLDistributionPointsExtension([`${base}/dp.crl`])] });
      const id = await attach({ caCertificate: ca.pem, useCrlDistributionPoints: true });
      expect((await svc.call("/api/v1/auth/tls-cert-auth/login", { body: { identityId: id }, cert: bundle(leaf), key: leaf.keyPem })).status).toBe(200);
      expect(Math.abs((await nextUpdateGauge()) - 12 * 3600)).toBeLessThan(120);
    });

    it("warns once when a CRL is in the last tenth of its validity and its refresh failed, and once more when it expires", async () => {
      const ca = await makeCa({ subject: `CN=Expiring ${driver}` });
      const now = Date.now();
      // Ten hours of validity, nine of them gone: the refresher's first fetch falls in the last tenth.
      bodies.set("/expiring.crl", (await makeCrl({ issuer: ca, thisUpdate: new Date(now - 9 * HOUR), nextUpdate: new Date(now + HOUR) })).der);
      const url = `${base.replace("http://", "http://user:secret@")}/expiring.crl`;
      await attach({ caCertificate: ca.pem, crlUrls: [url] });
      const lines: Record<string, unknown>[] = [];
      const refresher = new CrlRefresher(svc.service.database.db, crlSourceFor(svc.service.config), createLogger("warn", (line) => lines.push(JSON.parse(line)), "json"));
      const warnings = () => lines.filter((l) => String(l.msg).includes("its refresh failed"));
      down = true;
      try {
        for (const minutes of [1, 2, 4, 8, 16]) await refresher.refreshDue(new Date(now + minutes * 60_000));
        expect(lines.filter((l) => l.msg === "CRL fetch failed").length).toBeGreaterThanOrEqual(2);
        expect(warnings().map((l) => l.msg)).toEqual(["CRL expires soon and its refresh failed"]);
        await refresher.refreshDue(new Date(now + 2 * HOUR));
        await refresher.refreshDue(new Date(now + 3 * HOUR));
        expect(warnings().map((l) => l.msg)).toEqual(["CRL expires soon and its refresh failed", "CRL expired and its refresh failed"]);
        expect(JSON.stringify(lines)).not.toContain("secret");
        expect(warnings()[0]).toMatchObject({ level: "warn", url: `${base}/expiring.crl`, nextUpdate: expect.any(String) });
      } finally {
        down = false;
      }
    });

    it("counts a 304 for a CRL near or past its nextUpdate as a failed refresh: status, warning and metric", async () => {
      const ca = await makeCa({ subject: `CN=Always 304 ${driver}` });
      const crls = new CrlServer();
      await crls.start();
      try {
        const now = Date.now();
        // The server keeps the same list (and ETag) for good: every refresh is answered 304.
        const url = await crls.serve("/same.crl", ca, [], { thisUpdate: new Date(now), nextUpdate: new Date(now + 10 * HOUR) });
        const id = await attach({ caCertificate: ca.pem, crlUrls: [url] });
        const lines: Record<string, unknown>[] = [];
        const metrics = new Metrics();
        const source = new CrlSource(svc.service.config.REVOCATION_FETCH_ALLOWED_HOSTS, svc.service.config.CRL_REFRESH_INTERVAL, metrics);
        const refresher = new CrlRefresher(svc.service.database.db, source, createLogger("warn", (line) => lines.push(JSON.parse(line)), "json"));
        const status = async () => (await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`)).json.identityTlsCertAuth.crlUrlStatus[0].status as string;
        const warnings = () => lines.filter((l) => String(l.msg).includes("its refresh failed")).map((l) => l.msg);

        // Fresh: a 304 is a good answer.
        await refresher.refreshDue(new Date(now + 2 * HOUR));
        expect(crls.hits.get("/same.crl")).toBe(2);
        expect(await status()).toBe("not_modified");
        expect(metrics.revocationFetches.get("crl", "not_modified")).toBe(1);

        // In the last tenth, then past nextUpdate: the same 304 is a failure, with the warnings of a failed refresh.
        await refresher.refreshDue(new Date(now + 9.5 * HOUR));
        expect(crls.hits.get("/same.crl")).toBe(3);
        expect(await status()).toContain("failed: the server answers 304 Not Modified");
        expect(metrics.revocationFetches.get("crl", "failed")).toBe(1);
        expect(warnings()).toEqual(["CRL expires soon and its refresh failed"]);
        await refresher.refreshDue(new Date(now + 11 * HOUR));
        expect(metrics.revocationFetches.get("crl", "failed")).toBe(2);
        expect(metrics.revocationFetches.get("crl", "not_modified")).toBe(1);
        expect(warnings()).toEqual(["CRL expires soon and its refresh failed", "CRL expired and its refresh failed"]);
      } finally {
        crls.stop();
      }
    });
  });
}

for (const driver of drivers) {
  it(`certauth_crl_next_update_seconds covers uploaded CRLs stored before crls_next_update existed, from the next start, on ${driver}`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "certauth-visibility-"));
    const database = driver === "postgres" ? await createPostgresDatabase() : embeddedDatabase();
    const start = () => startService(driver, { DATA_DIR: dataDir }, database);
    try {
      const ca = await makeCa({ subject: `CN=Before 0003 ${driver}` });
      const noNextUpdate = await makeCa({ subject: `CN=No nextUpdate ${driver}` });
      const now = Date.now();
      let svc = await start();
      const orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Old", slug: "old" } })).json.organization.id;
      const attach = async (body: Record<string, unknown>) => {
        const id = (await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId } })).json.identity.id;
        expect((await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body })).status).toBe(200);
      };
      const crl = (await makeCrl({ issuer: ca, nextUpdate: new Date(now + 30 * HOUR) })).pem;
      // More configurations than one page of the start's pass reads.
      for (let i = 0; i < 40; i++) await attach({ caCertificate: ca.pem, crls: crl });
      await attach({ caCertificate: noNextUpdate.pem, crls: (await makeCrl({ issuer: noNextUpdate, nextUpdate: null })).pem });
      const gauge = async () => Number(/^certauth_crl_next_update_seconds (-?\d+)$/m.exec((await svc.call("/metrics")).text)?.[1]);
      expect(Math.abs((await gauge()) - 30 * 3600)).toBeLessThan(120);
      // As a configuration attached before migration 0003 is stored.
      await svc.service.database.db.execute(sql`update identity_tls_cert_auths set crls_next_update = null`);
      expect(await gauge()).toBeNaN();
      await svc.stop();

      svc = await start();
      try {
        expect(Math.abs((await gauge()) - 30 * 3600)).toBeLessThan(120);
        const rows = rowsOf(await svc.service.database.db.execute(sql`select crls_next_update from identity_tls_cert_auths order by crls_next_update nulls last`));
        expect(rows.map((r) => r.crls_next_update === null)).toEqual([...Array(40).fill(false), true]);
      } finally {
        await svc.stop();
      }
    } finally {
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
}
