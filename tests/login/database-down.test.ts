import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createPgCluster, pgClusterAvailable, type PgCluster } from "../helpers/pg-cluster.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";
const available = pgClusterAvailable();
if (!available) {
  if (process.env.CI === "true") throw new Error("pg_ctl/initdb are required in CI");
  console.warn("\n*** SKIPPING database-down tests: no pg_ctl/initdb on this machine ***\n");
}

const root = await makeCa({ subject: "CN=Outage Root" });
const leaf = await makeLeaf({ issuer: root, cn: "svc" });

describe.skipIf(!available)("a database that goes away", () => {
  let cluster: PgCluster;
  let svc: RunningService;
  let identityId: string;

  beforeAll(async () => {
    cluster = await createPgCluster();
    svc = await startService("postgres", {}, { name: "postgres", url: cluster.url, drop: async () => {} });
    const org = (await svc.admin("/api/v1/organizations", { body: { name: "O", slug: "o" } })).json.organization.id;
    identityId = (await svc.admin("/api/v1/identities", { body: { name: "i", organizationId: org } })).json.identity.id;
    await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, { body: { caCertificate: root.pem } });
  }, 120_000);
  afterAll(async () => {
    await svc?.stop();
    cluster?.destroy();
  });

  it("answers 503 ServiceUnavailable for status and login while down, and recovers by itself", async () => {
    expect((await svc.call(LOGIN, { body: { identityId }, cert: leaf.pem, key: leaf.keyPem })).status).toBe(200);
    cluster.stop("immediate");

    const status = await svc.call("/api/status");
    expect(status.status).toBe(503);
    expect(status.json).toMatchObject({ statusCode: 503, error: "ServiceUnavailable" });
    const login = await svc.call(LOGIN, { body: { identityId }, cert: leaf.pem, key: leaf.keyPem });
    expect(login.status).toBe(503);
    expect(login.json).toMatchObject({ statusCode: 503, error: "ServiceUnavailable" });
    expect(login.text).not.toContain("    at ");

    cluster.start();
    let recovered = 0;
    for (let i = 0; i < 50 && recovered !== 200; i++) {
      recovered = (await svc.call(LOGIN, { body: { identityId }, cert: leaf.pem, key: leaf.keyPem })).status;
      if (recovered !== 200) await Bun.sleep(200);
    }
    expect(recovered).toBe(200);
  });
});
