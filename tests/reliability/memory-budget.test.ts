/**
 * Unauthenticated memory growth (issue 13): whatever certificates an attacker presents, they cost a hash,
 * not memory, until the identity and its configuration are known to exist; a certificate larger than
 * 16 KiB is refused before it is parsed; what is parsed is cached within a byte budget.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import * as x509 from "../../src/pki/x509.ts";
import { parsedCertificates } from "../../src/pki/lib/load.ts";
import { generateKeys, makeCa, makeLeaf, OID_CLIENT_AUTH, type Issued, type KeyMaterial } from "../fixtures/pki.ts";
import { checkFetched, inProcess, LOGIN, type InProcess } from "./support.ts";

const sha256 = (der: Uint8Array) => createHash("sha256").update(der).digest("hex");
const root = await makeCa({ subject: "CN=Memory Root" });
const padding = (bytes: number) => [new x509.Extension("1.3.6.1.4.1.55555.1", false, crypto.getRandomValues(new Uint8Array(bytes)))];
const attackerKey: KeyMaterial = await generateKeys("p256");

/** A self-signed client certificate of about `bytes` bytes, as an attacker would mint by the thousand. */
function selfSigned(bytes: number, n: number): Promise<Issued> {
  return makeCa({ subject: `CN=attacker-${n}`, key: attackerKey, basicConstraints: false, keyUsage: null, eku: [OID_CLIENT_AUTH], extraExtensions: padding(bytes - 400) });
}

describe("unauthenticated memory: certificates for unknown identities and oversized certificates", () => {
  let app: InProcess;
  let identityId: string;

  beforeAll(async () => {
    app = await inProcess();
    const orgId = (await app.admin("POST", "/api/v1/organizations", { name: "Memory", slug: "memory" })).json.organization.id;
    identityId = (await app.admin("POST", "/api/v1/identities", { name: "svc", organizationId: orgId })).json.identity.id;
    expect((await app.admin("POST", `/api/v1/auth/tls-cert-auth/identities/${identityId}`, { caCertificate: root.pem, verifyClientCertificateChain: true })).status).toBe(200);
  }, 60_000);
  afterAll(() => app?.close());

  it("parses and caches nothing for 200 distinct 15 KiB certificates presented for unknown identities, and audits each fingerprint", async () => {
    const before = { size: parsedCertificates.size, bytes: parsedCertificates.bytes };
    let last: { id: string; der: Uint8Array } | undefined;
    for (let i = 0; i < 200; i++) {
      const cert = await selfSigned(15 * 1024, i);
      const id = crypto.randomUUID();
      const res = await app.fetch("POST", LOGIN, { body: { identityId: id }, peer: { certificateChain: [cert.der] } });
      checkFetched(res, [404]);
      last = { id, der: cert.der };
    }
    expect({ size: parsedCertificates.size, bytes: parsedCertificates.bytes }).toEqual(before);
    const [event] = (await app.admin("GET", `/api/v1/audit-logs?identityId=${last!.id}&limit=1`)).json.auditLogs;
    expect(event).toMatchObject({ eventType: "login-identity-tls-cert-auth-failed", certificateFingerprint: sha256(last!.der), certificateSubject: null });
  }, 60_000);

  it("answers 400 BadRequest for a leaf over 16 KiB, known identity or not, and audits its fingerprint", async () => {
    const big = await selfSigned(17 * 1024, 1000);
    expect(big.der.byteLength).toBeGreaterThan(16 * 1024);
    const before = parsedCertificates.size;
    for (const id of [identityId, crypto.randomUUID()]) {
      const res = await app.fetch("POST", LOGIN, { body: { identityId: id }, peer: { certificateChain: [big.der] } });
      checkFetched(res, [400]);
      expect(res.json.error).toBe("BadRequest");
      expect(res.json.message).toContain("16 KiB");
    }
    expect(parsedCertificates.size).toBe(before);
    const [event] = (await app.admin("GET", `/api/v1/audit-logs?identityId=${identityId}&limit=1`)).json.auditLogs;
    expect(event).toMatchObject({ identityId, certificateFingerprint: sha256(big.der), certificateSubject: null });
  });

  it("still logs in a known identity with a 15 KiB certificate, and audits its fingerprint", async () => {
    const leaf = await makeLeaf({ issuer: root, cn: "svc-large", extraExtensions: padding(15 * 1024 - 600) });
    expect(leaf.der.byteLength).toBeGreaterThan(14 * 1024);
    expect(leaf.der.byteLength).toBeLessThanOrEqual(16 * 1024);
    const res = await app.fetch("POST", LOGIN, { body: { identityId }, peer: { certificateChain: [leaf.der] } });
    checkFetched(res, [200]);
    const [event] = (await app.admin("GET", `/api/v1/audit-logs?identityId=${identityId}&limit=1`)).json.auditLogs;
    expect(event).toMatchObject({ eventType: "login-identity-tls-cert-auth", certificateFingerprint: sha256(leaf.der) });
    expect(event.certificateSubject).toContain("svc-large");
  });

  it("does not read an intermediate over 16 KiB: the chain through it does not verify", async () => {
    const inter = await makeCa({ subject: "CN=Padded Intermediate", issuer: root, extraExtensions: padding(17 * 1024) });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc-via-padded" });
    const res = await app.fetch("POST", LOGIN, { body: { identityId }, peer: { certificateChain: [leaf.der, inter.der] } });
    checkFetched(res, [401]);
    expect(res.headers.get("x-certauth-reason")).toBe("ca_verification_failed");
  });
});
