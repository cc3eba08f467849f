/**
 * Every row of PRODUCT.md §2.1 over real mutual TLS, on both storage drivers.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { decodeJwt } from "jose";
import { storageDrivers } from "../helpers/databases.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { bundle, daysFromNow, makeCa, makeCrl, makeLeaf, OID_SERVER_AUTH, type Issued } from "../fixtures/pki.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";
const drivers = await storageDrivers();

const root = await makeCa({ subject: "CN=Login Root" });
const otherRoot = await makeCa({ subject: "CN=Somebody Else's Root" });
const inter = await makeCa({ subject: "CN=Login Intermediate", issuer: root });
const expiredInter = await makeCa({ subject: "CN=Expired Intermediate", issuer: root, notAfter: daysFromNow(-1), notBefore: daysFromNow(-30) });
const futureInter = await makeCa({ subject: "CN=Future Intermediate", issuer: root, notBefore: daysFromNow(2) });
const serverOnlyInter = await makeCa({ subject: "CN=Server-only Intermediate", issuer: root, eku: [OID_SERVER_AUTH] });
const pathLenZeroRoot = await makeCa({ subject: "CN=PathLen0 Root", pathLen: 0 });
const underPathLenZero = await makeCa({ subject: "CN=Below PathLen0", issuer: pathLenZeroRoot });
const constrainedRoot = await makeCa({ subject: "CN=Constrained Root", nameConstraints: { permitted: { dns: ["example.com"] } } });

const good = await makeLeaf({ issuer: root, cn: "svc-a", o: "Acme", ou: "Platform", sans: { dns: ["svc-a.example.com"], uri: ["spiffe://example.org/ns/prod/sa/svc-a"] } });
const fromOther = await makeLeaf({ issuer: otherRoot, cn: "svc-a" });
const expired = await makeLeaf({ issuer: root, cn: "svc-a", notBefore: daysFromNow(-10), notAfter: daysFromNow(-1) });
const notYet = await makeLeaf({ issuer: root, cn: "svc-a", notBefore: daysFromNow(1), notAfter: daysFromNow(10) });
const serverOnly = await makeLeaf({ issuer: root, cn: "svc-a", eku: [OID_SERVER_AUTH] });
const viaInter = await makeLeaf({ issuer: inter, cn: "svc-b" });
const viaExpiredInter = await makeLeaf({ issuer: expiredInter, cn: "svc-b" });
const viaFutureInter = await makeLeaf({ issuer: futureInter, cn: "svc-b" });
const viaServerOnlyInter = await makeLeaf({ issuer: serverOnlyInter, cn: "svc-b" });
const tooDeep = await makeLeaf({ issuer: underPathLenZero, cn: "svc-c" });
const outsideConstraints = await makeLeaf({ issuer: constrainedRoot, cn: "svc-d", sans: { dns: ["svc-d.example.net"] } });
const revoked = await makeLeaf({ issuer: root, cn: "svc-a" });
const crl = await makeCrl({ issuer: root, revoked: [revoked.serial] });
const staleCrl = await makeCrl({ issuer: root, revoked: [], thisUpdate: daysFromNow(-10), nextUpdate: daysFromNow(-1) });

const tlsOf = (leaf: Issued, ...chain: Issued[]) => ({ cert: bundle(leaf, ...chain), key: leaf.keyPem });

describe.each(drivers)("login over mTLS on %s", (driver) => {
  let svc: RunningService;
  let orgId: string;
  let subOrgId: string;

  async function identityWith(config: Record<string, unknown>): Promise<string> {
    const identity = await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId } });
    const id = identity.json.identity.id;
    const attached = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: root.pem, ...config } });
    expect(attached.status).toBe(200);
    return id;
  }

  async function refused(identityId: string, tls: { cert: string; key: string }, reason: string) {
    const res = await svc.call(LOGIN, { body: { identityId }, ...tls });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ reqId: res.headers["x-request-id"], statusCode: 401, message: expect.any(String), error: "UnauthorizedError" });
    expect(res.headers["x-certauth-reason"]).toBe(reason);
    return res;
  }

  let directId: string;
  let chainId: string;

  beforeAll(async () => {
    svc = await startService(driver, { LOGIN_RATE_LIMIT: "0" });
    orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Acme", slug: "acme" } })).json.organization.id;
    subOrgId = (await svc.admin("/api/v1/organizations", { body: { name: "Prod", slug: "prod", parentOrganizationId: orgId } })).json.organization.id;
    await svc.admin("/api/v1/organizations", { body: { name: "Staging", slug: "staging", parentOrganizationId: orgId } });
    directId = await identityWith({ accessTokenTTL: 600, accessTokenMaxTTL: 3600 });
    chainId = await identityWith({ verifyClientCertificateChain: true });
  }, 120_000);
  afterAll(() => svc?.stop());

  it("logs in with a certificate issued by the configured CA and answers exactly the seed's shape", async () => {
    const res = await svc.call(LOGIN, { body: { identityId: directId }, ...tlsOf(good) });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(["accessToken", "accessTokenMaxTTL", "expiresIn", "tokenType"]);
    expect(res.json).toMatchObject({ expiresIn: 600, accessTokenMaxTTL: 3600, tokenType: "Bearer" });
    expect(res.headers["x-request-id"]).toBeString();
    const claims = decodeJwt(res.json.accessToken);
    expect(claims).toMatchObject({
      sub: directId,
      identityId: directId,
      orgId,
      rootOrgId: orgId,
      authMethod: "tls-cert-auth",
      authTokenType: "identityAccessToken",
    });
    expect(claims.jti).toBe(claims.identityAccessTokenId as string);
    expect((claims.exp as number) - (claims.iat as number)).toBe(600);
    expect(claims.cnf).toBeUndefined();
  });

  it("writes an audit event for a success and for a failure, with fingerprint, subject, IP and reason", async () => {
    await svc.call(LOGIN, { body: { identityId: directId }, ...tlsOf(good) });
    await refused(directId, tlsOf(fromOther), "ca_verification_failed");
    const logs = (await svc.admin(`/api/v1/audit-logs?identityId=${directId}&limit=2`)).json.auditLogs;
    expect(logs[0]).toMatchObject({
      eventType: "login-identity-tls-cert-auth-failed",
      identityId: directId,
      orgId,
      reasonCode: "ca_verification_failed",
      certificateFingerprint: new Bun.CryptoHasher("sha256").update(fromOther.der).digest("hex"),
      clientIp: "127.0.0.1",
    });
    expect(logs[0].certificateSubject).toContain("svc-a");
    expect(logs[1]).toMatchObject({
      eventType: "login-identity-tls-cert-auth",
      reasonCode: null,
      certificateFingerprint: new Bun.CryptoHasher("sha256").update(good.der).digest("hex"),
    });
  });

  it("answers 400 BadRequest without a client certificate", async () => {
    const res = await svc.call(LOGIN, { body: { identityId: directId } });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe("BadRequest");
    expect(res.json.reqId).toBe(res.headers["x-request-id"]);
  });

  it("answers 422 ValidationFailure for a missing identityId, an unknown field and a bad slug", async () => {
    for (const body of [{}, { identityId: directId, extra: 1 }, { identityId: directId, organizationSlug: "" }, { identityId: directId, organizationSlug: "x".repeat(65) }]) {
      const res = await svc.call(LOGIN, { body, ...tlsOf(good) });
      expect(res.status).toBe(422);
      expect(res.json.error).toBe("ValidationFailure");
    }
  });

  it("answers 404 for an unknown identity and for one without TLS cert auth", async () => {
    const unknown = await svc.call(LOGIN, { body: { identityId: crypto.randomUUID() }, ...tlsOf(good) });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe("NotFound");
    const notUuid = await svc.call(LOGIN, { body: { identityId: "not-a-uuid" }, ...tlsOf(good) });
    expect(notUuid.status).toBe(404);
    const bare = (await svc.admin("/api/v1/identities", { body: { name: "bare", organizationId: orgId } })).json.identity.id;
    const res = await svc.call(LOGIN, { body: { identityId: bare }, ...tlsOf(good) });
    expect(res.status).toBe(404);
  });

  it("refuses a certificate from another CA with ca_verification_failed", () => refused(directId, tlsOf(fromOther), "ca_verification_failed"));

  it("refuses, in direct mode, a leaf issued by an intermediate even when the client sends the intermediate", () =>
    refused(directId, tlsOf(viaInter, inter), "ca_verification_failed"));

  it("accepts, in chain mode, a leaf whose intermediate the client sends", async () => {
    const res = await svc.call(LOGIN, { body: { identityId: chainId }, ...tlsOf(viaInter, inter) });
    expect(res.status).toBe(200);
  });

  it("refuses, in chain mode, a chain the client did not complete", () => refused(chainId, tlsOf(viaInter), "ca_verification_failed"));

  it("refuses the configured CA itself as a client certificate with ca_certificate_not_allowed", () =>
    refused(directId, tlsOf(root), "ca_certificate_not_allowed"));

  it("refuses expired and not-yet-valid leaves", async () => {
    await refused(directId, tlsOf(expired), "certificate_expired");
    await refused(directId, tlsOf(notYet), "certificate_not_yet_valid");
  });

  it("refuses a path through an expired or not-yet-valid intermediate", async () => {
    await refused(chainId, tlsOf(viaExpiredInter, expiredInter), "issuer_certificate_expired");
    await refused(chainId, tlsOf(viaFutureInter, futureInter), "issuer_certificate_not_yet_valid");
  });

  it("refuses a leaf whose EKU is serverAuth only with client_auth_usage_not_allowed", () =>
    refused(directId, tlsOf(serverOnly), "client_auth_usage_not_allowed"));

  it("refuses an intermediate whose EKU excludes clientAuth with issuer_client_auth_usage_not_allowed", () =>
    refused(chainId, tlsOf(viaServerOnlyInter, serverOnlyInter), "issuer_client_auth_usage_not_allowed"));

  it("refuses a path longer than the anchor's pathLenConstraint with path_length_exceeded", async () => {
    const id = await identityWith({ caCertificate: pathLenZeroRoot.pem, verifyClientCertificateChain: true });
    await refused(id, tlsOf(tooDeep, underPathLenZero), "path_length_exceeded");
  });

  it("refuses a SAN outside the anchor's name constraints with name_constraint_violation", async () => {
    const id = await identityWith({ caCertificate: constrainedRoot.pem });
    await refused(id, tlsOf(outsideConstraints), "name_constraint_violation");
  });

  it("refuses a revoked leaf and fails closed on a CRL past its nextUpdate", async () => {
    const withCrl = await identityWith({ crls: crl.pem });
    await refused(withCrl, tlsOf(revoked), "certificate_revoked");
    expect((await svc.call(LOGIN, { body: { identityId: withCrl }, ...tlsOf(good) })).status).toBe(200);
    const withStale = await identityWith({ crls: staleCrl.pem });
    await refused(withStale, tlsOf(good), "crl_expired");
  });

  it("applies the name allow-lists: CN, SAN, O and OU", async () => {
    await refused(await identityWith({ allowedCommonNames: "svc-b, other-*" }), tlsOf(good), "common_name_not_allowed");
    await refused(await identityWith({ allowedSubjectAltNames: ["dns:*.example.net"] }), tlsOf(good), "subject_alt_name_not_allowed");
    await refused(await identityWith({ allowedOrganizations: ["Globex"] }), tlsOf(good), "organization_not_allowed");
    await refused(await identityWith({ allowedOrganizationalUnits: ["Finance"] }), tlsOf(good), "organizational_unit_not_allowed");
    const all = await identityWith({
      allowedCommonNames: "svc-*",
      allowedSubjectAltNames: ["uri:spiffe://example.org/ns/prod/*"],
      allowedOrganizations: ["Acme"],
      allowedOrganizationalUnits: ["Plat*"],
    });
    expect((await svc.call(LOGIN, { body: { identityId: all }, ...tlsOf(good) })).status).toBe(200);
  });

  it("scopes to a sub-organization only with a membership; the own slug changes nothing", async () => {
    const own = await svc.call(LOGIN, { body: { identityId: directId, organizationSlug: "acme" }, ...tlsOf(good) });
    expect(own.status).toBe(200);
    expect(decodeJwt(own.json.accessToken).orgId).toBe(orgId);

    const unknown = await svc.call(LOGIN, { body: { identityId: directId, organizationSlug: "nowhere" }, ...tlsOf(good) });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe("NotFound");

    const noMember = await svc.call(LOGIN, { body: { identityId: directId, organizationSlug: "staging" }, ...tlsOf(good) });
    expect(noMember.status).toBe(401);
    expect(noMember.headers["x-certauth-reason"]).toBe("sub_org_unauthorized");

    await svc.admin(`/api/v1/organizations/${subOrgId}/identity-memberships`, { body: { identityId: directId, role: "member" } });
    const member = await svc.call(LOGIN, { body: { identityId: directId, organizationSlug: "prod" }, ...tlsOf(good) });
    expect(member.status).toBe(200);
    const claims = decodeJwt(member.json.accessToken);
    expect(claims.orgId).toBe(subOrgId);
    expect(claims.rootOrgId).toBe(orgId);
  });

  it("gives TTL 0 the max TTL, and caps a max TTL of 0 at MAX_TOKEN_TTL", async () => {
    const upToMax = await identityWith({ accessTokenTTL: 0, accessTokenMaxTTL: 1234 });
    expect((await svc.call(LOGIN, { body: { identityId: upToMax }, ...tlsOf(good) })).json.expiresIn).toBe(1234);
    const unbounded = await identityWith({ accessTokenTTL: 0, accessTokenMaxTTL: 0 });
    expect((await svc.call(LOGIN, { body: { identityId: unbounded }, ...tlsOf(good) })).json.expiresIn).toBe(7776000);
  });
});

describe("login rate limit", () => {
  let svc: RunningService;
  beforeAll(async () => {
    svc = await startService("pglite", { LOGIN_RATE_LIMIT: "3" });
  }, 120_000);
  afterAll(() => svc?.stop());

  it("answers 429 RateLimitExceeded with Retry-After past LOGIN_RATE_LIMIT per client IP", async () => {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 5; i++) {
      last = await svc.call(LOGIN, { body: { identityId: crypto.randomUUID() }, ...tlsOf(good) });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([404, 404, 404, 429, 429]);
    expect(last!.json).toMatchObject({ statusCode: 429, error: "RateLimitExceeded" });
    expect(Number(last!.headers["retry-after"])).toBeGreaterThan(0);
  });
});
