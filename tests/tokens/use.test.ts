/**
 * PRODUCT.md §2.4: every check a token use makes, in order, over real mutual TLS on both storage drivers.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { base64url, decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import { storageDrivers } from "../helpers/databases.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { bearer, createIdentity, createOrg, expectRefused, INTROSPECT, leafA, leafB, login, self, sleep, SELF } from "./world.ts";

const drivers = await storageDrivers();

describe.each(drivers)("token uses on %s", (driver) => {
  let svc: RunningService;
  let orgId: string;

  beforeAll(async () => {
    svc = await startService(driver);
    orgId = await createOrg(svc);
  }, 60_000);
  afterAll(() => svc?.stop());

  it("answers /self with the token's identity, organization and remaining uses, counting one use each time", async () => {
    const id = await createIdentity(svc, orgId, { accessTokenNumUsesLimit: 3 });
    const { accessToken } = await login(svc, id);
    const first = await self(svc, accessToken);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({
      identityId: id,
      orgId,
      rootOrgId: orgId,
      authMethod: "tls-cert-auth",
      identityAccessTokenId: decodeJwt(accessToken).jti,
      expiresAt: new Date(decodeJwt(accessToken).exp! * 1000).toISOString(),
      numUsesLimit: 3,
      numUsesRemaining: 2,
    });
    expect((await self(svc, accessToken)).json.numUsesRemaining).toBe(1);
  });

  it("reports numUsesRemaining null for an unlimited token", async () => {
    const { accessToken } = await login(svc, await createIdentity(svc, orgId));
    expect((await self(svc, accessToken)).json.numUsesRemaining).toBeNull();
  });

  it("allows exactly 5 of 50 concurrent uses of a token limited to 5, then uses_exhausted", async () => {
    const { accessToken } = await login(svc, await createIdentity(svc, orgId, { accessTokenNumUsesLimit: 5 }));
    const results = await Promise.all(Array.from({ length: 50 }, () => self(svc, accessToken)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    const refused = results.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(45);
    for (const r of refused) expectRefused(r, 401, "uses_exhausted");
    expect(new Set(results.filter((r) => r.status === 200).map((r) => r.json.numUsesRemaining))).toEqual(new Set([0, 1, 2, 3, 4]));
  });

  it("refuses a revoked token at once with token_revoked, and revoking twice is fine", async () => {
    const { accessToken } = await login(svc, await createIdentity(svc, orgId));
    expect((await self(svc, accessToken)).status).toBe(200);
    const revoked = await svc.call("/api/v1/auth/token/revoke", { body: { accessToken } });
    expect(revoked.status).toBe(200);
    expect(revoked.json).toEqual({ message: expect.any(String) });
    expectRefused(await self(svc, accessToken), 401, "token_revoked");
    expect((await svc.call("/api/v1/auth/token/revoke", { body: { accessToken } })).status).toBe(200);
  });

  it("refuses revoking a token that is not one of ours (401) and an unknown body field (422)", async () => {
    expectRefused(await svc.call("/api/v1/auth/token/revoke", { body: { accessToken: "a.b.c" } }), 401, "invalid_token");
    expect((await svc.call("/api/v1/auth/token/revoke", { body: { accessToken: "x", extra: 1 } })).status).toBe(422);
  });

  it("reads trusted IPs live from the configuration: 403 ip_not_trusted from 127.0.0.1 under 10.9.9.9/32, 200 again once widened", async () => {
    const id = await createIdentity(svc, orgId, { accessTokenNumUsesLimit: 10 });
    const { accessToken } = await login(svc, id);
    const config = `/api/v1/auth/tls-cert-auth/identities/${id}`;
    expect((await svc.admin(config, { method: "PATCH", body: { accessTokenTrustedIps: [{ ipAddress: "10.9.9.9/32" }] } })).status).toBe(200);
    expectRefused(await self(svc, accessToken), 403, "ip_not_trusted");
    expect((await svc.admin(config, { method: "PATCH", body: { accessTokenTrustedIps: [{ ipAddress: "127.0.0.0/8" }] } })).status).toBe(200);
    const ok = await self(svc, accessToken);
    expect(ok.status).toBe(200);
    // The refused use was not counted.
    expect(ok.json.numUses).toBe(1);
  });

  it("refuses a token with alg none, with an alg changed to HS256, and one signed by another key, with invalid_token", async () => {
    const { accessToken } = await login(svc, await createIdentity(svc, orgId));
    const header = decodeProtectedHeader(accessToken);
    const [, payload, signature] = accessToken.split(".");
    const encode = (value: object) => base64url.encode(JSON.stringify(value));

    const none = `${encode({ ...header, alg: "none" })}.${payload}.`;
    expectRefused(await self(svc, none), 401, "invalid_token");

    const jwks = (await svc.call("/.well-known/jwks.json")).json.keys as Record<string, string>[];
    const publicJwk = jwks.find((k) => k.kid === header.kid)!;
    const hsKey = new TextEncoder().encode(JSON.stringify(publicJwk));
    const confused = await new SignJWT(decodeJwt(accessToken)).setProtectedHeader({ alg: "HS256", kid: header.kid! }).sign(hsKey);
    expectRefused(await self(svc, confused), 401, "invalid_token");
    expectRefused(await self(svc, `${encode({ ...header, alg: "ES256" })}.${payload}.${signature}`), 401, "invalid_token");

    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const foreign = await new SignJWT(decodeJwt(accessToken)).setProtectedHeader({ alg: "EdDSA", kid: header.kid! }).sign(privateKey);
    expectRefused(await self(svc, foreign), 401, "invalid_token");

    const tampered = `${accessToken.split(".")[0]}.${encode({ ...decodeJwt(accessToken), orgId: crypto.randomUUID() })}.${signature}`;
    expectRefused(await self(svc, tampered), 401, "invalid_token");
    expect((await self(svc, accessToken)).status).toBe(200);
  });

  it("refuses an expired token with token_expired", async () => {
    const { accessToken, expiresIn } = await login(svc, await createIdentity(svc, orgId, { accessTokenTTL: 1, accessTokenMaxTTL: 1 }));
    expect(expiresIn).toBe(1);
    await sleep(Math.max(0, decodeJwt(accessToken).exp! * 1000 - Date.now()) + 50);
    expectRefused(await self(svc, accessToken), 401, "token_expired");
  });

  it("refuses the token of a deleted identity, and after TLS cert auth is detached", async () => {
    const gone = await createIdentity(svc, orgId);
    const a = await login(svc, gone);
    expect((await self(svc, a.accessToken)).status).toBe(200);
    expect((await svc.admin(`/api/v1/identities/${gone}`, { method: "DELETE" })).status).toBe(200);
    expectRefused(await self(svc, a.accessToken), 401, "token_revoked");

    const detached = await createIdentity(svc, orgId);
    const b = await login(svc, detached);
    expect((await self(svc, b.accessToken)).status).toBe(200);
    expect((await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${detached}`, { method: "DELETE" })).status).toBe(200);
    expectRefused(await self(svc, b.accessToken), 401);
  });

  it("refuses a use without a Bearer token (401)", async () => {
    expectRefused(await svc.call(SELF), 401);
  });

  describe("certificate-bound tokens", () => {
    it("carry cnf.x5t#S256 and are accepted only with the same client certificate, without spending uses when refused", async () => {
      const id = await createIdentity(svc, orgId, { bindTokensToCertificate: true, accessTokenNumUsesLimit: 2 });
      const { accessToken } = await login(svc, id, leafA);
      const claims = decodeJwt(accessToken) as { cnf?: Record<string, string> };
      const thumbprint = base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", leafA.der as BufferSource)));
      expect(claims.cnf).toEqual({ "x5t#S256": thumbprint });

      expectRefused(await self(svc, accessToken, leafB), 401, "certificate_mismatch");
      expectRefused(await self(svc, accessToken), 401, "certificate_mismatch");
      const ok = await self(svc, accessToken, leafA);
      expect(ok.status).toBe(200);
      expect(ok.json).toMatchObject({ certificateBound: true, numUses: 1, numUsesRemaining: 1 });
    });

    it("introspect themselves only with their certificate, as for /self (401 certificate_mismatch); the admin needs none", async () => {
      const id = await createIdentity(svc, orgId, { bindTokensToCertificate: true });
      const { accessToken } = await login(svc, id, leafA);
      const asSelf = (leaf?: typeof leafA) =>
        svc.call(INTROSPECT, { body: { token: accessToken }, headers: bearer(accessToken), ...(leaf ? { cert: leaf.pem, key: leaf.keyPem } : {}) });

      expectRefused(await asSelf(), 401, "certificate_mismatch");
      expectRefused(await asSelf(leafB), 401, "certificate_mismatch");
      expect((await asSelf(leafA)).json).toMatchObject({ active: true, identityId: id, cnf: { "x5t#S256": expect.any(String) } });
      expect((await svc.admin(INTROSPECT, { body: { token: accessToken } })).json).toMatchObject({ active: true, identityId: id });
      // Revoked, it says no more to a caller without the certificate than before.
      await svc.call("/api/v1/auth/token/revoke", { body: { accessToken } });
      expectRefused(await asSelf(), 401, "certificate_mismatch");
      expect((await asSelf(leafA)).json).toEqual({ active: false });
    });

    it("are not issued when bindTokensToCertificate is off: the token works without a certificate", async () => {
      const { accessToken } = await login(svc, await createIdentity(svc, orgId), leafA);
      expect(decodeJwt(accessToken).cnf).toBeUndefined();
      expect((await self(svc, accessToken, leafB)).status).toBe(200);
    });
  });

  describe("introspection", () => {
    it("answers the admin and the token itself RFC 7662 style, without counting a use", async () => {
      const id = await createIdentity(svc, orgId, { accessTokenNumUsesLimit: 2 });
      const { accessToken } = await login(svc, id);
      const claims = decodeJwt(accessToken);
      const byAdmin = await svc.admin(INTROSPECT, { body: { token: accessToken } });
      expect(byAdmin.status).toBe(200);
      expect(byAdmin.json).toMatchObject({
        active: true,
        sub: id,
        client_id: id,
        identityId: id,
        orgId,
        rootOrgId: orgId,
        jti: claims.jti,
        exp: claims.exp,
        iat: claims.iat,
        token_type: "Bearer",
        numUsesRemaining: 2,
      });
      const bySelf = await svc.call(INTROSPECT, { body: { token: accessToken }, headers: bearer(accessToken) });
      expect(bySelf.json).toMatchObject({ active: true, numUsesRemaining: 2 });
      // Still two uses left after two introspections.
      expect((await self(svc, accessToken)).json.numUsesRemaining).toBe(1);
      expect((await self(svc, accessToken)).json.numUsesRemaining).toBe(0);
      expect((await svc.admin(INTROSPECT, { body: { token: accessToken } })).json).toEqual({ active: false });
    });

    it("answers { active: false } only, for revoked, foreign and garbage tokens", async () => {
      const { accessToken } = await login(svc, await createIdentity(svc, orgId));
      await svc.call("/api/v1/auth/token/revoke", { body: { accessToken } });
      expect((await svc.admin(INTROSPECT, { body: { token: accessToken } })).json).toEqual({ active: false });
      expect((await svc.admin(INTROSPECT, { body: { token: "not.a.token" } })).json).toEqual({ active: false });
    });

    it("refuses a token introspecting itself from outside its trusted IPs as /self does (403 ip_not_trusted); the admin is not refused", async () => {
      const id = await createIdentity(svc, orgId);
      const { accessToken } = await login(svc, id);
      const config = `/api/v1/auth/tls-cert-auth/identities/${id}`;
      const asSelf = () => svc.call(INTROSPECT, { body: { token: accessToken }, headers: bearer(accessToken) });
      expect((await svc.admin(config, { method: "PATCH", body: { accessTokenTrustedIps: [{ ipAddress: "10.9.9.9/32" }] } })).status).toBe(200);
      expectRefused(await asSelf(), 403, "ip_not_trusted");
      expect((await svc.admin(INTROSPECT, { body: { token: accessToken } })).json).toMatchObject({ active: true, identityId: id });
      // Revoked, it learns no more from there than before.
      await svc.call("/api/v1/auth/token/revoke", { body: { accessToken } });
      expectRefused(await asSelf(), 403, "ip_not_trusted");
      expect((await svc.admin(config, { method: "PATCH", body: { accessTokenTrustedIps: [{ ipAddress: "127.0.0.0/8" }] } })).status).toBe(200);
      expect((await asSelf()).json).toEqual({ active: false });
    });

    it("refuses a caller that is neither the admin nor the token (401)", async () => {
      const a = await login(svc, await createIdentity(svc, orgId));
      expectRefused(await svc.call(INTROSPECT, { body: { token: a.accessToken } }), 401);
      expectRefused(await svc.call(INTROSPECT, { body: { token: a.accessToken }, headers: bearer("nope") }), 401);
    });
  });
});
