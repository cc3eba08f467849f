import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { storageDrivers } from "../helpers/databases.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { makeCa, makeCrl, OID_SERVER_AUTH } from "../fixtures/pki.ts";

const drivers = await storageDrivers();
const root = await makeCa({ subject: "CN=Admin Test Root" });
const serverOnlyCa = await makeCa({ subject: "CN=Server Only CA", eku: [OID_SERVER_AUTH] });
const otherCa = await makeCa({ subject: "CN=Other CA" });

function expectError(res: { status: number; json: any; headers: any }, status: number, error: string) {
  expect(res.status).toBe(status);
  expect(res.json.statusCode).toBe(status);
  expect(res.json.error).toBe(error);
  expect(typeof res.json.message).toBe("string");
  expect(res.json.reqId).toBe(res.headers["x-request-id"]);
  const allowed = new Set(["reqId", "statusCode", "message", "error", ...(status === 400 || status === 403 ? ["details"] : [])]);
  for (const key of Object.keys(res.json)) expect(allowed.has(key)).toBe(true);
}

describe.each(drivers)("admin API over HTTPS on %s", (driver) => {
  let svc: RunningService;
  let orgId: string;
  let identityId: string;

  beforeAll(async () => {
    svc = await startService(driver);
    const org = await svc.admin("/api/v1/organizations", { body: { name: "Acme", slug: "acme" } });
    expect(org.status).toBe(200);
    orgId = org.json.organization.id;
    const identity = await svc.admin("/api/v1/identities", { body: { name: "build-agent", organizationId: orgId } });
    expect(identity.status).toBe(200);
    identityId = identity.json.identity.id;
  }, 120_000);
  afterAll(() => svc?.stop());

  const configPath = () => `/api/v1/auth/tls-cert-auth/identities/${identityId}`;

  it("answers /api/status with the database state and a request id", async () => {
    const res = await svc.call("/api/status");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: "ok", version: expect.any(String), database: "ok" });
    expect(res.headers["x-request-id"]).toBeString();
  });

  it("refuses admin routes without a token (401) and with a wrong one (401)", async () => {
    expectError(await svc.call(`/api/v1/identities/${identityId}`), 401, "UnauthorizedError");
    expectError(
      await svc.call(`/api/v1/identities/${identityId}`, { headers: { authorization: "Bearer not-the-admin-token-at-all-0000000000" } }),
      401,
      "UnauthorizedError",
    );
  });

  it("creates a root organization with rootOrgId equal to its id and parentOrgId null", async () => {
    const res = await svc.admin(`/api/v1/organizations/${orgId}`);
    expect(res.status).toBe(200);
    expect(res.json.organization).toMatchObject({ id: orgId, name: "Acme", slug: "acme", parentOrgId: null, rootOrgId: orgId });
  });

  it("creates a sub-organization under the root and refuses a duplicate slug under the same parent (400)", async () => {
    const sub = await svc.admin("/api/v1/organizations", { body: { name: "Prod", slug: "prod", parentOrganizationId: orgId } });
    expect(sub.status).toBe(200);
    expect(sub.json.organization).toMatchObject({ parentOrgId: orgId, rootOrgId: orgId });
    const again = await svc.admin("/api/v1/organizations", { body: { name: "Prod 2", slug: "prod", parentOrganizationId: orgId } });
    expectError(again, 400, "BadRequest");
    const memb = await svc.admin(`/api/v1/organizations/${sub.json.organization.id}/identity-memberships`, {
      body: { identityId, role: "member" },
    });
    expect(memb.status).toBe(200);
    expect(memb.json.identityMembership).toMatchObject({ identityId, orgId: sub.json.organization.id, role: "member" });
    const gone = await svc.admin(`/api/v1/organizations/${sub.json.organization.id}/identity-memberships/${identityId}`, { method: "DELETE" });
    expect(gone.status).toBe(200);
    const goneAgain = await svc.admin(`/api/v1/organizations/${sub.json.organization.id}/identity-memberships/${identityId}`, { method: "DELETE" });
    expectError(goneAgain, 404, "NotFound");
  });

  it("refuses an invalid slug and unknown fields with 422 ValidationFailure", async () => {
    expectError(await svc.admin("/api/v1/organizations", { body: { name: "x", slug: "Not A Slug" } }), 422, "ValidationFailure");
    const unknown = await svc.admin("/api/v1/organizations", { body: { name: "x", slug: "x", color: "red" } });
    expectError(unknown, 422, "ValidationFailure");
    expect(unknown.json.message).toContain("color");
  });

  it("creates, reads, updates and deletes an identity with a role", async () => {
    const created = await svc.admin("/api/v1/identities", { body: { name: "ops", organizationId: orgId, role: "admin" } });
    expect(created.json.identity).toMatchObject({ name: "ops", orgId, role: "admin" });
    const id = created.json.identity.id;
    const patched = await svc.admin(`/api/v1/identities/${id}`, { method: "PATCH", body: { role: "member" } });
    expect(patched.json.identity.role).toBe("member");
    expect((await svc.admin(`/api/v1/identities/${id}`)).json.identity.role).toBe("member");
    expect((await svc.admin(`/api/v1/identities/${id}`, { method: "DELETE" })).status).toBe(200);
    expectError(await svc.admin(`/api/v1/identities/${id}`), 404, "NotFound");
  });

  it("answers 404 for an identity in an unknown organization and for an unknown identity", async () => {
    expectError(
      await svc.admin("/api/v1/identities", { body: { name: "x", organizationId: crypto.randomUUID() } }),
      404,
      "NotFound",
    );
    expectError(await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${crypto.randomUUID()}`), 404, "NotFound");
  });

  it("reading or updating TLS cert auth before it is attached is a 404", async () => {
    expectError(await svc.admin(configPath()), 404, "NotFound");
    expectError(await svc.admin(configPath(), { method: "PATCH", body: { accessTokenTTL: 60 } }), 404, "NotFound");
  });

  it("refuses a CA that is not a certificate, and a CA whose EKU excludes clientAuth, with 400", async () => {
    const garbage = await svc.admin(configPath(), { body: { caCertificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" } });
    expectError(garbage, 400, "BadRequest");
    const serverOnly = await svc.admin(configPath(), { body: { caCertificate: serverOnlyCa.pem } });
    expectError(serverOnly, 400, "BadRequest");
    expect(serverOnly.json.message.toLowerCase()).toContain("clientauth");
  });

  it("refuses TTL greater than max TTL (400), out-of-range TTLs (422) and invalid trusted IPs (422)", async () => {
    expectError(await svc.admin(configPath(), { body: { caCertificate: root.pem, accessTokenTTL: 100, accessTokenMaxTTL: 50 } }), 400, "BadRequest");
    expectError(await svc.admin(configPath(), { body: { caCertificate: root.pem, accessTokenTTL: -1 } }), 422, "ValidationFailure");
    expectError(await svc.admin(configPath(), { body: { caCertificate: root.pem, accessTokenMaxTTL: 315360001 } }), 422, "ValidationFailure");
    expectError(
      await svc.admin(configPath(), { body: { caCertificate: root.pem, accessTokenTrustedIps: [{ ipAddress: "10.0.0.300/8" }] } }),
      422,
      "ValidationFailure",
    );
  });

  it("refuses a CRL signed by someone other than the configured CA that names it as issuer (400)", async () => {
    const forged = await makeCrl({ issuer: root, revoked: ["01"], signWith: otherCa.key });
    expectError(await svc.admin(configPath(), { body: { caCertificate: root.pem, crls: forged.pem } }), 400, "BadRequest");
  });

  it("attaches with Infisical's defaults, refuses attaching twice, updates partially and revokes", async () => {
    const attached = await svc.admin(configPath(), { body: { caCertificate: `${root.pem}\n${otherCa.pem}`, allowedCommonNames: "svc-a,svc-*" } });
    expect(attached.status).toBe(200);
    expect(attached.json.identityTlsCertAuth).toMatchObject({
      identityId,
      allowedCommonNames: "svc-a,svc-*",
      verifyClientCertificateChain: false,
      bindTokensToCertificate: false,
      accessTokenTTL: 2592000,
      accessTokenMaxTTL: 2592000,
      accessTokenNumUsesLimit: 0,
      accessTokenTrustedIps: [
        { ipAddress: "0.0.0.0", type: "ipv4", prefix: 0 },
        { ipAddress: "::", type: "ipv6", prefix: 0 },
      ],
    });
    expectError(await svc.admin(configPath(), { body: { caCertificate: root.pem } }), 400, "BadRequest");

    const patched = await svc.admin(configPath(), {
      method: "PATCH",
      body: { accessTokenTTL: 600, accessTokenTrustedIps: [{ ipAddress: "10.1.2.3" }, { ipAddress: "2001:db8::/32" }] },
    });
    expect(patched.status).toBe(200);
    expect(patched.json.identityTlsCertAuth.accessTokenTTL).toBe(600);
    expect(patched.json.identityTlsCertAuth.allowedCommonNames).toBe("svc-a,svc-*");
    expect(patched.json.identityTlsCertAuth.accessTokenTrustedIps).toEqual([
      { ipAddress: "10.1.2.3", type: "ipv4" },
      { ipAddress: "2001:db8::", type: "ipv6", prefix: 32 },
    ]);
    expectError(await svc.admin(configPath(), { method: "PATCH", body: { accessTokenMaxTTL: 300 } }), 400, "BadRequest");

    const read = await svc.admin(configPath());
    expect(read.json.identityTlsCertAuth.accessTokenTTL).toBe(600);
    expect(JSON.stringify(read.json)).not.toContain("PRIVATE KEY");

    expect((await svc.admin(configPath(), { method: "DELETE" })).status).toBe(200);
    expectError(await svc.admin(configPath()), 404, "NotFound");
  });

  it("answers 413 for a body over 64 KiB and 404 JSON for an unknown route", async () => {
    const big = await svc.admin("/api/v1/organizations", { rawBody: JSON.stringify({ name: "x".repeat(70_000), slug: "big" }) });
    expectError(big, 413, "PayloadTooLarge");
    expectError(await svc.call("/nope"), 404, "NotFound");
  });

  it("answers malformed JSON with a 4xx error body, never a 500", async () => {
    const res = await svc.admin("/api/v1/organizations", { rawBody: "{not json" });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.json.reqId).toBe(res.headers["x-request-id"]);
  });

  it("answers a body that is not declared as JSON with 415 UnsupportedMediaType", async () => {
    const res = await svc.admin("/api/v1/organizations", { rawBody: '{"name":"x","slug":"x"}', headers: { "content-type": "text/plain" } });
    expectError(res, 415, "UnsupportedMediaType");
  });

  it("lists audit logs newest first", async () => {
    const res = await svc.admin("/api/v1/audit-logs?limit=5");
    expect(res.status).toBe(200);
    expect(Array.isArray(res.json.auditLogs)).toBe(true);
  });
});
