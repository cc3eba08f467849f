/**
 * Spoofing: what a client cannot make the service believe. A forwarded certificate from a peer outside
 * TRUSTED_PROXIES, an X-Forwarded-For from anyone but a trusted proxy, a resumed TLS session created without
 * a certificate, and forged, expired or orphaned tokens are all refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHmac, createPublicKey } from "node:crypto";
import { generateKeyPair, SignJWT } from "jose";
import { makeCa, makeLeaf, type Issued } from "../fixtures/pki.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { checkCalled, checkFetched, inProcess, jwtClaims, LOGIN, RENEW, SELF, type InProcess } from "./support.ts";

const root = await makeCa({ subject: "CN=Spoof Root" });
const good = await makeLeaf({ issuer: root, cn: "svc-real" });
const proxyCert = await makeLeaf({ issuer: root, cn: "edge-proxy" });
const stranger = await makeLeaf({ issuer: await makeCa({ subject: "CN=Stranger Root" }), cn: "svc-real" });
const CERT_HEADER = "x-identity-tls-cert-auth-client-cert";
const forwarded = { [CERT_HEADER]: encodeURIComponent(good.pem) };

const untrustedIp = fc.oneof(
  fc.ipV4().filter((ip) => !ip.startsWith("10.")),
  fc.ipV6().filter((ip) => !/^::ffff:(10\.|a[0-9a-f]{2}:)/i.test(ip) && !/^::(ffff:)?0?a0?[0-9a-f]{0,2}:/i.test(ip)),
);

describe("forwarded certificates and X-Forwarded-For (in-process)", () => {
  let app: InProcess;
  let identityId: string;
  let pinnedId: string;

  beforeAll(async () => {
    app = await inProcess({ CLIENT_CERT_SOURCE: "tls,header", TRUSTED_PROXIES: "10.0.0.0/8", LOGIN_RATE_LIMIT: "5" });
    const org = (await app.admin("POST", "/api/v1/organizations", { name: "S", slug: "s" })).json.organization.id;
    identityId = (await app.admin("POST", "/api/v1/identities", { name: "s", organizationId: org })).json.identity.id;
    expect((await app.admin("POST", `/api/v1/auth/tls-cert-auth/identities/${identityId}`, { caCertificate: root.pem })).status).toBe(200);
    pinnedId = (await app.admin("POST", "/api/v1/identities", { name: "pinned", organizationId: org })).json.identity.id;
    const attached = await app.admin("POST", `/api/v1/auth/tls-cert-auth/identities/${pinnedId}`, {
      caCertificate: root.pem,
      accessTokenTrustedIps: [{ ipAddress: "203.0.113.7" }],
    });
    expect(attached.status).toBe(200);
  }, 60_000);
  afterAll(() => app?.close());

  it("never uses a forwarded certificate from a peer outside TRUSTED_PROXIES (any address, any header spelling)", async () => {
    await fc.assert(
      fc.asyncProperty(untrustedIp, fc.constantFrom(CERT_HEADER, CERT_HEADER.toUpperCase(), "X-Identity-TLS-Cert-Auth-Client-Cert"), async (ip, name) => {
        const res = await app.fetch("POST", LOGIN, {
          body: { identityId },
          peer: { remoteAddress: ip },
          headers: { [name]: encodeURIComponent(good.pem), "x-forwarded-for": "10.1.1.1" },
        });
        checkFetched(res, [400, 429]);
      }),
      { numRuns: 300 },
    );
  });

  it("does not take an IPv4-compatible IPv6 peer (::a00:1, which inet_ntop writes ::10.0.0.1) for the IPv4 proxy 10.0.0.1", async () => {
    for (const remoteAddress of ["::10.0.0.1", "::10.255.255.254"]) {
      const res = await app.fetch("POST", LOGIN, { body: { identityId }, peer: { remoteAddress }, headers: forwarded });
      checkFetched(res, [400]);
    }
    // An IPv4-mapped peer (an IPv4 client on a dual-stack socket) is the IPv4 proxy it carries.
    const mapped = await app.fetch("POST", LOGIN, { body: { identityId }, peer: { remoteAddress: "::ffff:10.0.0.1" }, headers: forwarded });
    checkFetched(mapped, [200]);
  });

  it("judges an untrusted peer's own TLS certificate and ignores the good one it forwards", async () => {
    const res = await app.fetch("POST", LOGIN, {
      body: { identityId },
      peer: { remoteAddress: "198.51.100.20", certificateChain: [stranger.der] },
      headers: forwarded,
    });
    checkFetched(res, [401]);
    expect(res.headers.get("x-certauth-reason")).toBe("ca_verification_failed");
  });

  it("honours X-Forwarded-For for a token's trusted IPs only from a trusted proxy", async () => {
    const login = await app.fetch("POST", LOGIN, { body: { identityId: pinnedId }, peer: { remoteAddress: "10.0.0.1" }, headers: forwarded });
    expect(login.status).toBe(200);
    const bearer = { authorization: `Bearer ${login.json.accessToken}` };
    const use = (remoteAddress: string, xff?: string) =>
      app.fetch("GET", SELF, { peer: { remoteAddress }, headers: xff ? { ...bearer, "x-forwarded-for": xff } : bearer });
    // A direct client claiming to be the trusted IP is judged by its TCP address.
    for (const xff of ["203.0.113.7", "203.0.113.7, 203.0.113.7", "[203.0.113.7]:443", "unknown, 203.0.113.7"]) {
      const res = await use("192.0.2.50", xff);
      checkFetched(res, [403]);
    }
    // Behind the proxy: the last address the proxy did not write is the client's.
    expect((await use("10.0.0.1", "203.0.113.7")).status).toBe(200);
    checkFetched(await use("10.0.0.1", "203.0.113.7, 198.51.100.1"), [403]);
    checkFetched(await use("10.0.0.1", "203.0.113.7, garbage, 198.51.100.1"), [403]);
    expect((await use("10.0.0.1", "198.51.100.1, 203.0.113.7, 10.0.0.2")).status).toBe(200);
  });

  it("counts the login rate limit per TCP peer for direct clients, whatever X-Forwarded-For says", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await app.fetch("POST", LOGIN, {
        body: { identityId },
        peer: { remoteAddress: "192.0.2.77", certificateChain: [good.der] },
        headers: { "x-forwarded-for": `198.51.100.${i}` },
      });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
  });

  it("counts the login rate limit per real client behind a trusted proxy, however the client pads the header", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await app.fetch("POST", LOGIN, {
        body: { identityId },
        peer: { remoteAddress: "10.0.0.9" },
        // The client wrote the first entry; the proxy appended the address it saw.
        headers: { ...forwarded, "x-forwarded-for": `192.0.2.${i}, 198.51.100.99` },
      });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    // Another client behind the same proxy has its own budget.
    const other = await app.fetch("POST", LOGIN, { body: { identityId }, peer: { remoteAddress: "10.0.0.9" }, headers: { ...forwarded, "x-forwarded-for": "198.51.100.100" } });
    expect(other.status).toBe(200);
  });
});

describe("forwarded headers and X-Forwarded-For over HTTPS from an untrusted peer", () => {
  let svc: RunningService;
  let identityId: string;

  beforeAll(async () => {
    svc = await startService("pglite", { CLIENT_CERT_SOURCE: "tls,header", TRUSTED_PROXIES: "10.0.0.0/8", LOGIN_RATE_LIMIT: "3" });
    const org = (await svc.admin("/api/v1/organizations", { body: { name: "S", slug: "s" } })).json.organization.id;
    identityId = (await svc.admin("/api/v1/identities", { body: { name: "s", organizationId: org } })).json.identity.id;
    await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, { body: { caCertificate: root.pem } });
  }, 60_000);
  afterAll(() => svc?.stop());

  it("ignores a forwarded certificate from 127.0.0.1 and rate-limits it despite a fresh X-Forwarded-For each time", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await svc.call(LOGIN, { body: { identityId }, headers: { ...forwarded, "x-forwarded-for": `203.0.113.${i}` } });
      checkCalled(res, [400, 429]);
      statuses.push(res.status);
    }
    expect(statuses).toEqual([400, 400, 400, 429, 429, 429]);
  });
});

describe("a trusted proxy's own TLS certificate, over HTTPS (tls,header)", () => {
  // The test client plays the trusted proxy at 127.0.0.1, holding a client certificate of its own from the same CA.
  let svc: RunningService;
  let identityId: string;

  beforeAll(async () => {
    svc = await startService("pglite", { CLIENT_CERT_SOURCE: "tls,header", TRUSTED_PROXIES: "127.0.0.1/32", LOGIN_RATE_LIMIT: "0" });
    const org = (await svc.admin("/api/v1/organizations", { body: { name: "P", slug: "p" } })).json.organization.id;
    identityId = (await svc.admin("/api/v1/identities", { body: { name: "p", organizationId: org } })).json.identity.id;
    const attached = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, {
      body: { caCertificate: root.pem, bindTokensToCertificate: true },
    });
    expect(attached.status).toBe(200);
  }, 60_000);
  afterAll(() => svc?.stop());

  const asProxy = { cert: proxyCert.pem, key: proxyCert.keyPem };
  const forwarding = (leaf: Issued) => ({ [CERT_HEADER]: encodeURIComponent(leaf.pem) });

  it("is never taken for its client's: a login through it without a forwarded certificate is a 400 (no client certificate)", async () => {
    const bare = await svc.call(LOGIN, { body: { identityId }, ...asProxy });
    checkCalled(bare, [400]);
    expect(bare.json.error).toBe("BadRequest");
    const forwarded = await svc.call(LOGIN, { body: { identityId }, ...asProxy, headers: forwarding(good) });
    expect(forwarded.status).toBe(200);
    const audit = await svc.admin(`/api/v1/audit-logs?identityId=${identityId}&limit=5`);
    expect(audit.json.auditLogs.map((e: { certificateSubject: string }) => e.certificateSubject)).not.toContain("CN=edge-proxy");
  });

  it("never proves a bound token's certificate: only the forwarded one counts for requests through it", async () => {
    const bound = await svc.call(LOGIN, { body: { identityId }, ...asProxy, headers: forwarding(proxyCert) });
    expect(bound.status).toBe(200);
    const bearer = { authorization: `Bearer ${bound.json.accessToken}` };
    const bare = await svc.call(SELF, { headers: bearer, ...asProxy });
    checkCalled(bare, [401]);
    expect(bare.headers["x-certauth-reason"]).toBe("certificate_mismatch");
    const renewed = await svc.call(RENEW, { body: { accessToken: bound.json.accessToken }, ...asProxy });
    expect(renewed.headers["x-certauth-reason"]).toBe("certificate_mismatch");
    expect((await svc.call(SELF, { headers: { ...bearer, ...forwarding(proxyCert) }, ...asProxy })).status).toBe(200);
  });
});

const RESUME_CLIENT = new URL("./fixtures/resume-client.mjs", import.meta.url).pathname;

/** Node's TLS client: a login with a certificate, then that session resumed bare and resumed holding the certificate. */
async function resumedLogins(port: number, maxVersion: string, body: string) {
  const dir = mkdtempSync(join(tmpdir(), "certauth-resume-"));
  try {
    writeFileSync(join(dir, "cert.pem"), good.pem);
    writeFileSync(join(dir, "key.pem"), good.keyPem, { mode: 0o600 });
    const child = Bun.spawn(["node", RESUME_CLIENT, String(port), maxVersion, body, join(dir, "cert.pem"), join(dir, "key.pem")], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (code !== 0) throw new Error(`resume client failed: ${err}`);
    const lines = out.trim().split("\n").map((l) => JSON.parse(l) as { name: string; status: number; reused: boolean; error?: string });
    return Object.fromEntries(lines.map((l) => [l.name, l]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("TLS session resumption", () => {
  let svc: RunningService;
  let identityId: string;

  beforeAll(async () => {
    svc = await startService("pglite", { LOGIN_RATE_LIMIT: "0" });
    const org = (await svc.admin("/api/v1/organizations", { body: { name: "R", slug: "r" } })).json.organization.id;
    identityId = (await svc.admin("/api/v1/identities", { body: { name: "r", organizationId: org } })).json.identity.id;
    await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, { body: { caCertificate: root.pem } });
  }, 60_000);
  afterAll(() => svc?.stop());

  for (const maxVersion of ["TLSv1.2", "TLSv1.3"]) {
    it(`authenticates a resumed ${maxVersion} session (Node tls.connect with session) only with the certificate of the handshake that created it`, async () => {
      const { first, bare, holding, anonymous, anonymousHolding } = await resumedLogins(svc.port, maxVersion, JSON.stringify({ identityId }));
      expect(first).toMatchObject({ status: 200, reused: false });
      expect(bare).toMatchObject({ reused: true, status: 200 });
      expect(holding).toMatchObject({ reused: true, status: 200 });
      // A session created without a certificate has none, even resumed by a client that holds one.
      expect(anonymous).toMatchObject({ reused: false, status: 400, error: "BadRequest" });
      expect(anonymousHolding).toMatchObject({ reused: true, status: 400, error: "BadRequest" });
    });
  }
});

describe("forged, expired and orphaned tokens", () => {
  let app: InProcess;
  let identityId: string;
  let token: string;
  let orgId: string;

  const b64url = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

  async function refusedEverywhere(forged: string, reason?: string) {
    const bearer = { authorization: `Bearer ${forged}` };
    const self = await app.fetch("GET", SELF, { headers: bearer });
    checkFetched(self, [401]);
    if (reason) expect(self.headers.get("x-certauth-reason")).toBe(reason);
    checkFetched(await app.fetch("POST", RENEW, { body: { accessToken: forged } }), [401]);
    checkFetched(await app.fetch("GET", `/api/v1/organizations/${orgId}`, { headers: bearer }), [401]);
    const introspected = await app.admin("POST", "/api/v1/auth/token/introspect", { token: forged });
    expect(introspected.status).toBe(200);
    expect(introspected.json.active).toBe(false);
  }

  beforeAll(async () => {
    app = await inProcess();
    orgId = (await app.admin("POST", "/api/v1/organizations", { name: "T", slug: "t" })).json.organization.id;
    identityId = (await app.admin("POST", "/api/v1/identities", { name: "t", organizationId: orgId, role: "admin" })).json.identity.id;
    await app.admin("POST", `/api/v1/auth/tls-cert-auth/identities/${identityId}`, { caCertificate: root.pem });
    const res = await app.fetch("POST", LOGIN, { body: { identityId }, peer: { certificateChain: [good.der] } });
    expect(res.status).toBe(200);
    token = res.json.accessToken;
    // The genuine token works on each route the forgeries are tried on.
    expect((await app.fetch("GET", `/api/v1/organizations/${orgId}`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  }, 60_000);
  afterAll(() => app?.close());

  it("refuses a token signed with another key under the service's kid", async () => {
    const [header] = token.split(".");
    const kid = JSON.parse(Buffer.from(header!, "base64url").toString()).kid;
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const forged = await new SignJWT(jwtClaims(token)).setProtectedHeader({ alg: "EdDSA", typ: "JWT", kid }).sign(privateKey);
    await refusedEverywhere(forged, "invalid_token");
  });

  it("refuses alg none, with and without a signature part", async () => {
    const [header, payload] = token.split(".");
    const h = JSON.parse(Buffer.from(header!, "base64url").toString());
    for (const alg of ["none", "None", "NONE"]) {
      await refusedEverywhere(`${b64url({ ...h, alg })}.${payload}.`, "invalid_token");
      await refusedEverywhere(`${b64url({ ...h, alg })}.${payload}.${token.split(".")[2]}`, "invalid_token");
    }
  });

  it("refuses HS256 signed with the service's public key (algorithm confusion) in every encoding of that key", async () => {
    const [header, payload] = token.split(".");
    const h = JSON.parse(Buffer.from(header!, "base64url").toString());
    const jwk = (await app.fetch("GET", "/.well-known/jwks.json")).json.keys.find((k: { kid: string }) => k.kid === h.kid);
    expect(jwk).toBeDefined();
    const spkiPem = createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "pem" }) as string;
    const secrets = [JSON.stringify(jwk), spkiPem, Buffer.from(jwk.x, "base64url"), jwk.x];
    for (const secret of secrets) {
      const signingInput = `${b64url({ ...h, alg: "HS256" })}.${payload}`;
      const sig = createHmac("sha256", secret).update(signingInput).digest("base64url");
      await refusedEverywhere(`${signingInput}.${sig}`, "invalid_token");
    }
  });

  it("refuses a token whose claims were changed after signing, and kids that point nowhere", async () => {
    const [header, , sig] = token.split(".");
    const claims = jwtClaims(token);
    await refusedEverywhere(`${header}.${b64url({ ...claims, orgId: crypto.randomUUID() })}.${sig}`, "invalid_token");
    await refusedEverywhere(`${header}.${b64url({ ...claims, exp: claims.exp + 10_000 })}.${sig}`, "invalid_token");
    const h = JSON.parse(Buffer.from(header!, "base64url").toString());
    for (const kid of ["../../../etc/passwd", "x".repeat(5000), "' or 1=1 --", "hs256", ""]) {
      await refusedEverywhere(`${b64url({ ...h, kid })}.${token.split(".")[1]}.${sig}`, "invalid_token");
    }
  });

  it("refuses an expired token signed with the service's own key", async () => {
    const claims = jwtClaims(token);
    const now = Math.floor(Date.now() / 1000);
    const expired = await app.service.signer.sign({ ...claims, iat: undefined, exp: undefined }, now - 3600, now - 60);
    await refusedEverywhere(expired, "token_expired");
  });

  it("refuses every token of an identity once the identity is deleted", async () => {
    const doomed = (await app.admin("POST", "/api/v1/identities", { name: "doomed", organizationId: orgId, role: "admin" })).json.identity.id;
    await app.admin("POST", `/api/v1/auth/tls-cert-auth/identities/${doomed}`, { caCertificate: root.pem });
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) tokens.push((await app.fetch("POST", LOGIN, { body: { identityId: doomed }, peer: { certificateChain: [good.der] } })).json.accessToken);
    expect((await app.fetch("GET", SELF, { headers: { authorization: `Bearer ${tokens[0]}` } })).status).toBe(200);
    expect((await app.admin("DELETE", `/api/v1/identities/${doomed}`)).status).toBe(200);
    for (const t of tokens) await refusedEverywhere(t);
  });
});
