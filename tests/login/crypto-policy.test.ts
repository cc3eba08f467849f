/**
 * The crypto policy and hostile allow-list globs over real mutual TLS: PRODUCT.md §2.1 (weak_signature_algorithm,
 * weak_key) and §2.2 (a weak CA key or a SHA-1 CRL is a 400 at attach and PATCH).
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startService, type RunningService } from "../helpers/service.ts";
import { bundle, generateKeys, makeCa, makeCrl, makeLeaf, signingWithHash, type Issued } from "../fixtures/pki.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";

const rsaRoot = await makeCa({ subject: "CN=RSA-2048 Root", key: "rsa2048" });
const weakRoot = await makeCa({ subject: "CN=RSA-1024 Root", key: "rsa1024" });
const shortRoot = await makeCa({ subject: "CN=RSA-2047 Root", key: "rsa2047" });
const ecRoot = await makeCa({ subject: "CN=P-384 Root", key: "p384" });
const ecInter = await makeCa({ subject: "CN=P-256 Intermediate", issuer: ecRoot, key: "p256" });
const sha1Leaf = await makeLeaf({ issuer: rsaRoot, cn: "svc", signWith: await signingWithHash(rsaRoot.key, "SHA-1") });
const weakKeyLeaf = await makeLeaf({ issuer: rsaRoot, cn: "svc", key: await generateKeys("rsa1024") });
const shortKeyLeaf = await makeLeaf({ issuer: rsaRoot, cn: "svc", key: await generateKeys("rsa2047") });
const ecLeaf = await makeLeaf({ issuer: ecInter, cn: "svc" });
const sha1Crl = await makeCrl({ issuer: rsaRoot, signWith: await signingWithHash(rsaRoot.key, "SHA-1") });
const hostileCn = await makeLeaf({ issuer: rsaRoot, cn: "a".repeat(64) });

const tlsOf = (leaf: Issued, ...chain: Issued[]) => ({ cert: bundle(leaf, ...chain), key: leaf.keyPem });

describe("crypto policy and hostile globs over mTLS", () => {
  let svc: RunningService;
  let orgId: string;

  const newIdentity = async () =>
    (await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId } })).json.identity.id as string;
  const attach = (id: string, body: Record<string, unknown>) => svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body });
  async function attached(body: Record<string, unknown>) {
    const id = await newIdentity();
    expect((await attach(id, body)).status).toBe(200);
    return id;
  }
  async function refused(identityId: string, tls: { cert: string; key: string }, reason: string) {
    const res = await svc.call(LOGIN, { body: { identityId }, ...tls });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ reqId: res.headers["x-request-id"], statusCode: 401, message: expect.any(String), error: "UnauthorizedError" });
    expect(res.headers["x-certauth-reason"]).toBe(reason);
    const [event] = (await svc.admin(`/api/v1/audit-logs?identityId=${identityId}&limit=1`)).json.auditLogs;
    expect(event).toMatchObject({ eventType: "login-identity-tls-cert-auth-failed", reasonCode: reason });
  }

  beforeAll(async () => {
    svc = await startService("pglite", { LOGIN_RATE_LIMIT: "0" });
    orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Acme", slug: "acme" } })).json.organization.id;
  }, 120_000);
  afterAll(() => svc?.stop());

  it("refuses to attach or PATCH in a CA with an RSA-1024 key (400 naming it)", async () => {
    const res = await attach(await newIdentity(), { caCertificate: weakRoot.pem });
    expect(res.status).toBe(400);
    expect(res.json.message).toContain('"CN=RSA-1024 Root" has an RSA key of 1024 bits');
    const id = await attached({ caCertificate: rsaRoot.pem });
    const patched = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { method: "PATCH", body: { caCertificate: bundle(rsaRoot, weakRoot) } });
    expect(patched.status).toBe(400);
    expect(patched.json.message).toContain("RSA key of 1024 bits");
  });

  it("refuses to attach a CA whose RSA modulus is 2047 bits, one short of 2048 in the same 256 bytes", async () => {
    const res = await attach(await newIdentity(), { caCertificate: shortRoot.pem });
    expect(res.status).toBe(400);
    expect(res.json.message).toContain('"CN=RSA-2047 Root" has an RSA key of 2047 bits');
  });

  it("refuses to attach a CRL signed with SHA-1 (400 naming it)", async () => {
    const res = await attach(await newIdentity(), { caCertificate: rsaRoot.pem, crls: sha1Crl.pem });
    expect(res.status).toBe(400);
    expect(res.json.message).toContain("CRL #1 is signed with SHA-1 with RSA");
  });

  it("refuses a leaf an RSA-2048 CA signed with SHA-1 with weak_signature_algorithm", async () => {
    await refused(await attached({ caCertificate: rsaRoot.pem }), tlsOf(sha1Leaf), "weak_signature_algorithm");
  });

  it("refuses a leaf with an RSA-1024 key with weak_key", async () => {
    await refused(await attached({ caCertificate: rsaRoot.pem }), tlsOf(weakKeyLeaf), "weak_key");
  });

  it("refuses a leaf with a 2047-bit RSA key with weak_key and logs in a 2048-bit one", async () => {
    const id = await attached({ caCertificate: rsaRoot.pem });
    await refused(id, tlsOf(shortKeyLeaf), "weak_key");
    expect((await svc.call(LOGIN, { body: { identityId: id }, ...tlsOf(await makeLeaf({ issuer: rsaRoot, cn: "svc", key: "rsa2048" })) })).status).toBe(200);
  });

  it("logs in with a P-256 leaf under a P-256 intermediate and a P-384 root", async () => {
    const id = await attached({ caCertificate: ecRoot.pem, verifyClientCertificateChain: true });
    const res = await svc.call(LOGIN, { body: { identityId: id }, ...tlsOf(ecLeaf, ecInter) });
    expect(res.status).toBe(200);
  });

  it("answers a 64 × a common name against *a*a*a*a*a*a*a*a*b with common_name_not_allowed", async () => {
    const id = await attached({ caCertificate: rsaRoot.pem, allowedCommonNames: "*a*a*a*a*a*a*a*a*b" });
    await refused(id, tlsOf(hostileCn), "common_name_not_allowed");
  });
});
