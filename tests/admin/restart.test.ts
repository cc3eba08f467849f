import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrap } from "../../src/server/bootstrap.ts";
import { bun } from "../../src/adapters/bun/index.ts";
import { startServer } from "../../src/server/listener.ts";
import { DataDirInUseError } from "../../src/server/local-database.ts";
import { call } from "../helpers/https.ts";
import { makeCa } from "../fixtures/pki.ts";

const dataDir = mkdtempSync(join(tmpdir(), "certauth-restart-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** The embedded database in DATA_DIR, as `npm start` runs it: no DATABASE_URL, no ADMIN_TOKEN. */
async function start() {
  const printed: string[] = [];
  const service = await bootstrap({ DATA_DIR: dataDir, LOG_LEVEL: "silent" }, (line) => printed.push(line));
  const server = await startServer(bun, service, 0, "127.0.0.1");
  return {
    printed,
    url: `https://127.0.0.1:${server.port}`,
    async stop() {
      await server.close();
      await service.database.close();
    },
  };
}

describe("the embedded database across restarts", () => {
  it("keeps organizations, identities and configurations, and the generated admin token and server certificate", async () => {
    const ca = await makeCa({ subject: "CN=Restart CA" });
    const first = await start();
    const tokenLine = first.printed.find((l) => l.includes("generated an admin token"));
    expect(tokenLine).toBeDefined();
    const adminToken = first.printed.join("\n").match(/certauth_admin_[0-9a-f]{64}/)![0];
    expect(statSync(join(dataDir, "admin-token")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, "server.key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, "key-encryption-key")).mode & 0o777).toBe(0o600);
    const auth = { authorization: `Bearer ${adminToken}` };
    const org = (await call(first.url, "/api/v1/organizations", { body: { name: "Keep", slug: "keep" }, headers: auth })).json.organization;
    const identity = (await call(first.url, "/api/v1/identities", { body: { name: "kept", organizationId: org.id }, headers: auth })).json.identity;
    const attach = await call(first.url, `/api/v1/auth/tls-cert-auth/identities/${identity.id}`, {
      body: { caCertificate: ca.pem, accessTokenTTL: 77 },
      headers: auth,
    });
    expect(attach.status).toBe(200);
    expect((await call(first.url, "/api/status")).status).toBe(200);
    // The embedded database takes one process at a time: a second opener is refused while the first runs.
    await expect(bootstrap({ DATA_DIR: dataDir, LOG_LEVEL: "silent" }, () => {})).rejects.toThrow(DataDirInUseError);
    await first.stop();
    // A lock left by a process that is gone (a crash) is taken over.
    writeFileSync(join(dataDir, "certauth.pid"), "2147483646\n");

    const second = await start();
    try {
      expect(second.printed.some((l) => l.includes("generated"))).toBe(false);
      expect((await call(second.url, `/api/v1/organizations/${org.id}`, { headers: auth })).json.organization.slug).toBe("keep");
      expect((await call(second.url, `/api/v1/identities/${identity.id}`, { headers: auth })).json.identity.name).toBe("kept");
      const config = await call(second.url, `/api/v1/auth/tls-cert-auth/identities/${identity.id}`, { headers: auth });
      expect(config.json.identityTlsCertAuth).toMatchObject({ accessTokenTTL: 77, caCertificate: ca.pem });
    } finally {
      await second.stop();
    }
  }, 180_000);
});
