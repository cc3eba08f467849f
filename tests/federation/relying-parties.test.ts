/**
 * PRODUCT §1 ISSUER_URL, TOKEN_SIGNING_ALG and §2.4 discovery: relying parties that know only certauth's issuer
 * URL (jose's remote JWKS, PyJWT's PyJWKClient, certauth/middleware) find the JWKS through the discovery
 * document, verify the token's signature, iss and aud, and read the claims mapped from a workload certificate
 * with a SPIFFE ID and private extensions, for each asymmetric algorithm.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { execFile, spawnSync } from "node:child_process";
import { join } from "node:path";
import { Hono } from "hono";
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, errors, jwtVerify } from "jose";
import { certauthAuth, type CertauthEnv } from "certauth/middleware";
import { LEVEL_DER, SPIFFE_ID, identityWith, startIssuer, trustingFetch, workload, type Issuer } from "./world.ts";

const PYTHON_RP = join(import.meta.dir, "clients/pyjwt-relying-party.py");
const MAPPINGS = { spiffe_id: "san.uri", team: "subject.OU", asset: "ext:1.3.6.1.4.1.55555.1", level: "ext:1.3.6.1.4.1.55555.2", dns: "san.dns" };
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** The interpreter with PyJWT and requests (Debian's python3-jwt and python3-requests live in /usr/bin/python3's path). */
function pythonWithPyJwt(): string {
  for (const python of ["/usr/bin/python3", "python3"]) {
    if (spawnSync(python, ["-c", "import jwt, requests, cryptography"]).status === 0) return python;
  }
  throw new Error("no python3 with PyJWT, requests and cryptography: apt-get install python3-jwt python3-requests python3-cryptography");
}

/** jose as a relying party configured with the issuer URL alone. */
async function joseRelyingParty(svc: Issuer, token: string, audience: string) {
  const tlsFetch = trustingFetch(svc.serverCa);
  const config = await (await tlsFetch(`${svc.issuer}/.well-known/openid-configuration`)).json();
  expect(config.issuer).toBe(svc.issuer);
  const jwks = createRemoteJWKSet(new URL(config.jwks_uri), { [customFetch]: (url: string, init: RequestInit) => tlsFetch(url, init) });
  const { payload } = await jwtVerify(token, jwks, { issuer: svc.issuer, audience, algorithms: config.id_token_signing_alg_values_supported });
  return payload;
}

/** Run as a separate process, asynchronously: the service it calls runs in this one. */
function pyjwtRelyingParty(svc: Issuer, token: string, audience: string): Promise<{ claims?: Record<string, unknown>; alg?: string; refused?: string }> {
  return new Promise((resolve, reject) => {
    execFile(pythonWithPyJwt(), [PYTHON_RP, svc.issuer, svc.serverCaFile, audience, token], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`PyJWT relying party failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

async function login(svc: Issuer, identityId: string) {
  const res = await svc.call("/api/v1/auth/tls-cert-auth/login", { body: { identityId }, cert: workload.pem, key: workload.keyPem });
  expect(res.status).toBe(200);
  return res.json.accessToken as string;
}

for (const alg of ["EdDSA", "ES256", "RS256"] as const) {
  describe(`certauth as an OIDC issuer signing with ${alg}`, () => {
    let svc: Issuer;
    let token: string;
    let noAudience: string;
    beforeAll(async () => {
      svc = await startIssuer({ TOKEN_SIGNING_ALG: alg });
      token = await login(svc, await identityWith(svc, { tokenAudiences: ["rp-a", "sts.example.com"], claimMappings: MAPPINGS }));
      noAudience = await login(svc, await identityWith(svc, { claimMappings: MAPPINGS }));
    }, 60_000);
    afterAll(() => svc?.stop());

    it("answers the discovery document with the issuer, its JWKS and the signing algorithm", async () => {
      const res = await trustingFetch(svc.serverCa)(`${svc.issuer}/.well-known/openid-configuration`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        issuer: svc.issuer,
        jwks_uri: `${svc.issuer}/.well-known/jwks.json`,
        id_token_signing_alg_values_supported: [alg],
        subject_types_supported: ["public"],
        response_types_supported: ["id_token"],
        claims_supported: expect.arrayContaining(["iss", "sub", "aud", "exp", "iat", "jti", "identityId", "orgId"]),
      });
      const jwks = await (await trustingFetch(svc.serverCa)(`${svc.issuer}/.well-known/jwks.json`)).json();
      expect(jwks.keys).toContainEqual(expect.objectContaining({ kid: decodeProtectedHeader(token).kid, alg, use: "sig" }));
      if (alg === "RS256") {
        const key = jwks.keys.find((k: { alg: string }) => k.alg === "RS256");
        expect(Buffer.from(key.n, "base64url").byteLength * 8).toBeGreaterThanOrEqual(2048);
      }
    });

    it("is trusted by jose's remote JWKS, which reads iss, aud and the claims mapped from the certificate", async () => {
      const claims = await joseRelyingParty(svc, token, "rp-a");
      expect(decodeProtectedHeader(token).alg).toBe(alg);
      expect(claims).toMatchObject({
        iss: svc.issuer,
        aud: ["rp-a", "sts.example.com"],
        spiffe_id: SPIFFE_ID,
        team: ["payments", "prod"],
        asset: "asset-42",
        level: hex(LEVEL_DER),
        dns: ["payments.example.org", "payments.prod.example.org"],
      });
    });

    it("is refused by a jose relying party whose audience the token does not name, and one without aud at all", async () => {
      await expect(joseRelyingParty(svc, token, "rp-other")).rejects.toBeInstanceOf(errors.JWTClaimValidationFailed);
      await expect(joseRelyingParty(svc, noAudience, "rp-a")).rejects.toBeInstanceOf(errors.JWTClaimValidationFailed);
      expect((await joseRelyingParty(svc, token, "sts.example.com")).sub).toBeString();
    });

    it("is trusted by PyJWT's PyJWKClient through the discovery document, and refused for another audience", async () => {
      const accepted = await pyjwtRelyingParty(svc, token, "sts.example.com");
      expect(accepted.alg).toBe(alg);
      expect(accepted.claims).toMatchObject({ iss: svc.issuer, spiffe_id: SPIFFE_ID, team: ["payments", "prod"], asset: "asset-42" });
      expect(await pyjwtRelyingParty(svc, token, "rp-other")).toEqual({ refused: "InvalidAudienceError" });
      expect((await pyjwtRelyingParty(svc, noAudience, "rp-a")).refused).toBe("MissingRequiredClaimError");
    });

    it("is trusted by certauth/middleware given only the issuer and audience, which exposes the mapped claims", async () => {
      const guarded = (audience: string) => {
        const app = new Hono<CertauthEnv>();
        app.use("/api/*", certauthAuth({ issuer: svc.issuer, audience, fetch: trustingFetch(svc.serverCa) }));
        app.get("/api/whoami", (c) => c.json({ identityId: c.var.certauth.identityId, mapped: c.var.certauthMappedClaims }));
        return (bearer: string) => app.request("/api/whoami", { headers: { authorization: `Bearer ${bearer}` } });
      };
      const ok = await guarded("rp-a")(token);
      expect(ok.status).toBe(200);
      expect((await ok.json()).mapped).toEqual({
        spiffe_id: SPIFFE_ID,
        team: ["payments", "prod"],
        asset: "asset-42",
        level: hex(LEVEL_DER),
        dns: ["payments.example.org", "payments.prod.example.org"],
      });
      expect((await guarded("rp-other")(token)).status).toBe(401);
      expect((await guarded("rp-a")(noAudience)).status).toBe(401);
    });

    it("has certauth/middleware refuse while discovery fails, and discover again on the next request", async () => {
      let reachable = false;
      const flaky = (url: string, init: RequestInit) => (reachable ? trustingFetch(svc.serverCa)(url, init) : Promise.reject(new Error("unreachable")));
      const app = new Hono<CertauthEnv>();
      app.use("/api/*", certauthAuth({ issuer: svc.issuer, audience: "rp-a", fetch: flaky }));
      app.get("/api/whoami", (c) => c.json({ identityId: c.var.certauth.identityId }));
      const call = () => app.request("/api/whoami", { headers: { authorization: `Bearer ${token}` } });
      // 503, not 401: the token may be valid, its client should keep it.
      expect((await call()).status).toBe(503);
      reachable = true;
      expect((await call()).status).toBe(200);
    });

    it("has certauth/middleware refuse an issuer whose discovery document names another issuer", async () => {
      const app = new Hono<CertauthEnv>();
      const lying = (url: string, init: RequestInit) =>
        url.endsWith("/openid-configuration")
          ? Promise.resolve(Response.json({ issuer: "https://elsewhere.example.com", jwks_uri: `${svc.issuer}/.well-known/jwks.json` }))
          : trustingFetch(svc.serverCa)(url, init);
      app.use("/api/*", certauthAuth({ issuer: svc.issuer, fetch: lying }));
      app.get("/api/whoami", (c) => c.text("ok"));
      // Refused as an issuer whose keys cannot be had: nothing is known against the token itself.
      expect((await app.request("/api/whoami", { headers: { authorization: `Bearer ${token}` } })).status).toBe(503);
    });
  });
}
