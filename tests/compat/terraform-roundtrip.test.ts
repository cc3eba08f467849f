/**
 * The TLS cert auth configuration as Terraform's Infisical provider handles it (PRODUCT.md §2.2): attach, read
 * back, PATCH with exactly what was read, read again, and nothing changes. Trusted IPs in Infisical's shape,
 * only unambiguous addresses, comma lists normalised. Against the real server started as `npm start` runs it.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startServiceProcess, stopAllProcesses, type ServiceProcess } from "../helpers/processes.ts";
import { client, configPath, createIdentity, createOrg, LOGIN, root } from "./infisical-world.ts";

let svc: ServiceProcess;
let orgId: string;

beforeAll(async () => {
  svc = await startServiceProcess("bun");
  orgId = (await createOrg(svc)).id;
}, 120_000);
afterAll(() => stopAllProcesses());

/** What the provider sends back: every field it read except the ids and timestamps. */
function configFields(read: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, identityId: _identityId, createdAt: _createdAt, updatedAt: _updatedAt, ...fields } = read;
  return fields;
}

describe("Terraform's round trip of the TLS cert auth configuration", () => {
  it("reads back what a PATCH of exactly the read configuration leaves unchanged", async () => {
    const id = await createIdentity(svc, orgId, {
      allowedCommonNames: "svc-a, svc-*",
      accessTokenTrustedIps: [{ ipAddress: "127.0.0.1" }, { ipAddress: "10.0.0.0/8" }, { ipAddress: "2001:db8::/32" }, { ipAddress: "::1" }],
      accessTokenTTL: 600,
      accessTokenMaxTTL: 3600,
    });
    const first = await svc.admin(configPath(id));
    expect(first.status).toBe(200);

    const patched = await svc.admin(configPath(id), { method: "PATCH", body: configFields(first.json.identityTlsCertAuth) });
    expect(patched.status).toBe(200);
    const second = await svc.admin(configPath(id));
    expect(configFields(second.json.identityTlsCertAuth)).toEqual(configFields(first.json.identityTlsCertAuth));
  });

  it("reads trusted IPs back as Infisical does: no prefix for one address, the address without /prefix for a range", async () => {
    const id = await createIdentity(svc, orgId, {
      accessTokenTrustedIps: [{ ipAddress: "10.0.0.1" }, { ipAddress: "10.0.0.0/8" }, { ipAddress: "10.1.2.3/32" }, { ipAddress: "2001:db8::1" }, { ipAddress: "2001:db8::/32" }],
    });
    const read = await svc.admin(configPath(id));
    expect(read.json.identityTlsCertAuth.accessTokenTrustedIps).toStrictEqual([
      { ipAddress: "10.0.0.1", type: "ipv4" },
      { ipAddress: "10.0.0.0", type: "ipv4", prefix: 8 },
      { ipAddress: "10.1.2.3", type: "ipv4", prefix: 32 },
      { ipAddress: "2001:db8::1", type: "ipv6" },
      { ipAddress: "2001:db8::", type: "ipv6", prefix: 32 },
    ]);
  });

  it("accepts the objects read back on attach as well, with the same meaning", async () => {
    const readBack = [
      { ipAddress: "127.0.0.1", type: "ipv4" },
      { ipAddress: "10.0.0.0", type: "ipv4", prefix: 8 },
    ];
    const id = await createIdentity(svc, orgId, { accessTokenTrustedIps: readBack });
    expect((await svc.admin(configPath(id))).json.identityTlsCertAuth.accessTokenTrustedIps).toStrictEqual(readBack);
  });

  it("normalises allowedCommonNames written as \"a, b\" to \"a,b\", as Infisical does", async () => {
    const id = await createIdentity(svc, orgId, { allowedCommonNames: " svc-a ,  svc-* " });
    expect((await svc.admin(configPath(id))).json.identityTlsCertAuth.allowedCommonNames).toBe("svc-a,svc-*");
    const patched = await svc.admin(configPath(id), { method: "PATCH", body: { allowedCommonNames: "svc-b, svc-a" } });
    expect(patched.json.identityTlsCertAuth.allowedCommonNames).toBe("svc-b,svc-a");
  });

  it.each(["10", "010.0.0.1", "0x0a.0.0.1", "10.0.0", "10.0.0.1/08", "fe80::1%eth0", "::ffff:010.0.0.1"])(
    "refuses the ambiguous trusted IP %p on attach and PATCH with 422 naming the entry",
    async (ipAddress) => {
      const bare = await createIdentity(svc, orgId, null);
      const attach = await svc.admin(configPath(bare), { body: { caCertificate: root.pem, accessTokenTrustedIps: [{ ipAddress }] } });
      expect(attach.status).toBe(422);
      expect(attach.json).toMatchObject({ statusCode: 422, error: "ValidationFailure" });
      expect(attach.json.message).toContain(JSON.stringify(ipAddress));

      const attached = await createIdentity(svc, orgId, {});
      const patch = await svc.admin(configPath(attached), { method: "PATCH", body: { accessTokenTrustedIps: [{ ipAddress: "10.0.0.1" }, { ipAddress }] } });
      expect(patch.status).toBe(422);
      expect(patch.json.message).toContain(JSON.stringify(ipAddress));
    },
  );

  it("refuses an entry whose type or prefix contradicts its address with 422 naming the entry", async () => {
    const id = await createIdentity(svc, orgId, {});
    for (const entry of [
      { ipAddress: "10.0.0.1", type: "ipv6" },
      { ipAddress: "10.0.0.0/8", type: "ipv4", prefix: 16 },
      { ipAddress: "10.0.0.0", type: "ipv4", prefix: 33 },
    ]) {
      const patch = await svc.admin(configPath(id), { method: "PATCH", body: { accessTokenTrustedIps: [entry] } });
      expect(patch.status).toBe(422);
      expect(patch.json.message).toContain(JSON.stringify(entry.ipAddress));
    }
  });

  it("still checks the token's IP against one address without a prefix: 127.0.0.1 allowed, 10.0.0.1 refused with 403", async () => {
    const id = await createIdentity(svc, orgId, { accessTokenTrustedIps: [{ ipAddress: "127.0.0.1", type: "ipv4" }] });
    const login = await svc.call(LOGIN, { body: { identityId: id }, cert: client.pem, key: client.keyPem });
    expect(login.status).toBe(200);
    const self = () => svc.call("/api/v1/auth/token/self", { headers: { authorization: `Bearer ${login.json.accessToken}` } });
    expect((await self()).status).toBe(200);

    expect((await svc.admin(configPath(id), { method: "PATCH", body: { accessTokenTrustedIps: [{ ipAddress: "10.0.0.1" }] } })).status).toBe(200);
    const refused = await self();
    expect(refused.status).toBe(403);
    expect(refused.headers["x-certauth-reason"]).toBe("ip_not_trusted");
  });
});
