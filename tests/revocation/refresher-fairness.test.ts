/**
 * One tenant's slow CRL servers must not hold back another tenant's refresh: the refresher takes the CRLs due
 * soonest first and does not wait for one server before asking the next. Real service, real HTTP servers.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { CrlServer } from "../helpers/crl-server.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { makeCa } from "../fixtures/pki.ts";

const HOUR = 3600_000;

describe("CRL refresher under slow servers", () => {
  let svc: RunningService;
  let orgId: string;
  const slow = new CrlServer();
  const fast = new CrlServer();

  const attach = async (crlUrls: string[], caPem: string) => {
    const id = (await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId } })).json.identity.id as string;
    const res = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: caPem, crlUrls } });
    expect(res.json.message).toBeUndefined();
  };

  beforeAll(async () => {
    await slow.start();
    await fast.start();
    svc = await startService("pglite", { LOGIN_RATE_LIMIT: "0" });
    orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Acme", slug: "acme" } })).json.organization.id;
  }, 120_000);
  afterAll(async () => {
    await svc?.stop();
    slow.stop();
    fast.stop();
  });

  it("fetches the CRL due soonest in the first round, and asks slow servers side by side", async () => {
    const noisy = await makeCa({ subject: "CN=Noisy tenant" });
    // Two configurations of one tenant name 16 CRLs on a server that turns slow after the attach.
    for (let config = 0; config < 2; config++) {
      const urls = await Promise.all(Array.from({ length: 8 }, (_, i) => slow.serve(`/noisy/${config}-${i}.crl`, noisy, [])));
      await attach(urls, noisy.pem);
    }
    // Another tenant's CRL, attached last, is due long before theirs: its nextUpdate is an hour away.
    const quiet = await makeCa({ subject: "CN=Quiet tenant" });
    const url = await fast.serve("/quiet.crl", quiet, [], { thisUpdate: new Date(Date.now() - 10 * HOUR), nextUpdate: new Date(Date.now() + HOUR) });
    await attach([url], quiet.pem);
    expect(fast.hits.get("/quiet.crl")).toBe(1);

    for (const [path, body] of slow.bodies) slow.bodies.set(path, body.slice().reverse());
    slow.delayMs = 300;
    slow.maxInFlight = 0;
    expect(await svc.service.crlRefresher.refreshDue(new Date(Date.now() + 2 * HOUR))).toBe(16);
    expect(fast.hits.get("/quiet.crl")).toBe(2);
    expect(slow.maxInFlight).toBeGreaterThan(1);
  });
});
