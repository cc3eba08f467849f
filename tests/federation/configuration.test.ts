/**
 * PRODUCT §2.2 requiredExtensions, tokenAudiences, claimMappings and §2.4 claims: attach/PATCH validation,
 * required_extension_missing over real mTLS, mapped claims in self and introspect, the bounds on what mappings
 * may put in a token, and certauth's own check of `iss`.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT } from "jose";
import { KeyEncryption, KeyStore } from "../../src/tokens/key-store.ts";
import { makeLeaf, type Issued } from "../fixtures/pki.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { ASSET_OID, LEVEL_DER, LEVEL_OID, SPIFFE_ID, bare, identityWith, root, startIssuer, workload, type Issuer } from "./world.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";
const KEK = "test-key-encryption-key-0123456789abcdef";
const config = (id: string) => `/api/v1/auth/tls-cert-auth/identities/${id}`;
const loginAs = (svc: RunningService, identityId: string, leaf: Issued) => svc.call(LOGIN, { body: { identityId }, cert: leaf.pem, key: leaf.keyPem });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let svc: Issuer;
beforeAll(async () => {
  svc = await startIssuer({ TOKEN_SIGNING_ALG: "ES256", KEY_ENCRYPTION_KEY: KEK });
}, 60_000);
afterAll(() => svc?.stop());

describe("requiredExtensions over mutual TLS", () => {
  it("logs in a leaf that carries the extension, and refuses one without it with required_extension_missing (audited)", async () => {
    const id = await identityWith(svc, { requiredExtensions: [`${ASSET_OID}:asset-*`] });
    expect((await loginAs(svc, id, workload)).status).toBe(200);
    const refused = await loginAs(svc, id, bare);
    expect(refused.status).toBe(401);
    expect(refused.json).toMatchObject({ statusCode: 401, error: "UnauthorizedError" });
    expect(refused.headers["x-certauth-reason"]).toBe("required_extension_missing");
    const [event] = (await svc.admin(`/api/v1/audit-logs?identityId=${id}&limit=1`)).json.auditLogs;
    expect(event).toMatchObject({ eventType: "login-identity-tls-cert-auth-failed", reasonCode: "required_extension_missing" });
  });

  it("matches the hex form against the DER of a non-string extension", async () => {
    const hex = Buffer.from(LEVEL_DER).toString("hex");
    const id = await identityWith(svc, { requiredExtensions: [`${LEVEL_OID}:hex:${hex}`] });
    expect((await loginAs(svc, id, workload)).status).toBe(200);
    expect((await loginAs(svc, id, bare)).headers["x-certauth-reason"]).toBe("required_extension_missing");
    const other = await identityWith(svc, { requiredExtensions: [`${LEVEL_OID}:hex:020109`] });
    expect((await loginAs(svc, other, workload)).headers["x-certauth-reason"]).toBe("required_extension_missing");
  });

  it("refuses a malformed entry at attach and PATCH with a 400 naming it, and reads the entries back", async () => {
    const id = await identityWith(svc, { requiredExtensions: [`${ASSET_OID}:*`] });
    const bad = await svc.admin(config(id), { method: "PATCH", body: { requiredExtensions: ["not-an-oid:*"] } });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toContain('"not-an-oid:*"');
    expect((await svc.admin(config(id))).json.identityTlsCertAuth.requiredExtensions).toEqual([`${ASSET_OID}:*`]);
    const tooMany = await svc.admin(config(id), { method: "PATCH", body: { requiredExtensions: Array(33).fill(`${ASSET_OID}:*`) } });
    expect(tooMany.status).toBe(422);
    const tooLong = await svc.admin(config(id), { method: "PATCH", body: { requiredExtensions: [`${ASSET_OID}:${"*".repeat(1024)}`] } });
    expect(tooLong.status).toBe(422);
    const cleared = await svc.admin(config(id), { method: "PATCH", body: { requiredExtensions: null } });
    expect(cleared.json.identityTlsCertAuth.requiredExtensions).toBeNull();
    expect((await loginAs(svc, id, bare)).status).toBe(200);
  });
});

describe("claimMappings and tokenAudiences", () => {
  it("puts one value as a string, several as a list, and none not at all; self and introspect show them with aud", async () => {
    const id = await identityWith(svc, {
      tokenAudiences: ["vault"],
      claimMappings: {
        spiffe_id: "san.uri",
        team: "subject.OU",
        org: "subject.O",
        cn: "subject.CN",
        ip: "san.ip",
        email: "san.email",
        serial: "serial",
        fingerprint: "fingerprint",
        "https://example.org/claims/asset": `ext:${ASSET_OID}`,
      },
    });
    const token = (await loginAs(svc, id, workload)).json.accessToken;
    const mapped = {
      spiffe_id: SPIFFE_ID,
      team: ["payments", "prod"],
      org: "Example",
      cn: "payments",
      ip: "10.1.2.3",
      serial: workload.serial.toLowerCase().replace(/^0+/, ""),
      fingerprint: new Bun.CryptoHasher("sha256").update(workload.der).digest("hex"),
      "https://example.org/claims/asset": "asset-42",
    };
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ ...mapped, aud: "vault", iss: svc.issuer });
    expect(claims.email).toBeUndefined();

    const self = await svc.call("/api/v1/auth/token/self", { headers: bearer(token) });
    expect(self.status).toBe(200);
    expect(self.json).toMatchObject({ ...mapped, aud: "vault", identityId: id, numUses: 1 });
    expect(self.json.email).toBeUndefined();
    const introspection = await svc.admin("/api/v1/auth/token/introspect", { body: { token } });
    expect(introspection.json).toMatchObject({ ...mapped, active: true, aud: "vault", iss: svc.issuer, identityId: id });

    // A renewal keeps the claims of the login.
    const renewed = await svc.call("/api/v1/auth/token/renew", { body: { accessToken: token } });
    expect(renewed.status).toBe(200);
    expect(decodeJwt(renewed.json.accessToken)).toMatchObject({ ...mapped, aud: "vault", iss: svc.issuer });
  });

  it.each(["iss", "Sub", "aud", "exp", "jti", "cnf", "azp", "nonce", "act", "scope", "client_id", "identityId", "ORGID", "authMethod", "identityAccessTokenId", "active", "numUses"])(
    "refuses the claim name %p (registered, certauth's, or an answer's member) with a 400",
    async (name) => {
      const identity = await svc.admin("/api/v1/identities", {
        body: { name: `id-${crypto.randomUUID()}`, organizationId: (await svc.admin("/api/v1/organizations", { body: { name: "x", slug: `o-${crypto.randomUUID().slice(0, 8)}` } })).json.organization.id },
      });
      const res = await svc.admin(config(identity.json.identity.id), { body: { caCertificate: root.pem, claimMappings: { [name]: "subject.CN" } } });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ statusCode: 400, error: "BadRequest" });
      expect(res.json.message).toContain(`"${name}"`);
    },
  );

  it("refuses the claim name __proto__ with a 400, on attach and on update, rather than dropping it", async () => {
    // Raw JSON: `__proto__` is then an own member of the parsed object, as any client can send it.
    const mappings = '{"__proto__": "subject.CN", "team": "subject.OU"}';
    const identity = await svc.admin("/api/v1/identities", {
      body: { name: `id-${crypto.randomUUID()}`, organizationId: (await svc.admin("/api/v1/organizations", { body: { name: "x", slug: `o-${crypto.randomUUID().slice(0, 8)}` } })).json.organization.id },
    });
    const attach = await svc.admin(config(identity.json.identity.id), {
      rawBody: `{"caCertificate": ${JSON.stringify(root.pem)}, "claimMappings": ${mappings}}`,
    });
    expect(attach.status).toBe(400);
    expect(attach.json).toMatchObject({ statusCode: 400, error: "BadRequest" });
    expect(attach.json.message).toContain('"__proto__"');

    const id = await identityWith(svc, { claimMappings: { team: "subject.OU" } });
    const update = await svc.admin(config(id), { method: "PATCH", rawBody: `{"claimMappings": ${mappings}}` });
    expect(update.status).toBe(400);
    expect(update.json.message).toContain('"__proto__"');
    expect((await svc.admin(config(id))).json.identityTlsCertAuth.claimMappings).toEqual({ team: "subject.OU" });
    // A name that merely contains it is an ordinary name.
    expect((await svc.admin(config(id), { method: "PATCH", body: { claimMappings: { x__proto__: "subject.CN" } } })).status).toBe(200);
  });

  it("refuses an unknown source or a malformed name with a 400, and bounds with a 422", async () => {
    const id = await identityWith(svc, {});
    const patch = (body: Record<string, unknown>) => svc.admin(config(id), { method: "PATCH", body });
    const unknownSource = await patch({ claimMappings: { team: "subject.L" } });
    expect(unknownSource.status).toBe(400);
    expect(unknownSource.json.message).toContain('"subject.L"');
    expect((await patch({ claimMappings: { team: "ext:not-an-oid" } })).status).toBe(400);
    expect((await patch({ claimMappings: { "has space": "subject.CN" } })).status).toBe(400);
    expect((await patch({ claimMappings: { ["n".repeat(65)]: "subject.CN" } })).status).toBe(400);
    const seventeen = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`claim${i}`, "subject.CN"]));
    expect((await patch({ claimMappings: seventeen })).status).toBe(422);
    expect((await patch({ claimMappings: Object.fromEntries(Object.entries(seventeen).slice(0, 16)) })).status).toBe(200);

    // " and \ are refused too: escaped in the token's JSON, eight audiences of them would take 4 KiB and push the
    // largest token past the 8 KiB renew and introspect accept.
    const escaped = [Array.from({ length: 8 }, (_, i) => `${'"'.repeat(255)}${i}`), ["a\\b"]];
    for (const tokenAudiences of [[], Array.from({ length: 9 }, (_, i) => `aud-${i}`), ["a".repeat(257)], ["has space"], ["dup", "dup"], ["é"], ...escaped]) {
      expect((await patch({ tokenAudiences })).status).toBe(422);
    }
    const eight = Array.from({ length: 8 }, (_, i) => `${"a".repeat(250)}-${i}`);
    expect((await patch({ tokenAudiences: eight })).json.identityTlsCertAuth.tokenAudiences).toEqual(eight);
    const cleared = await patch({ tokenAudiences: null, claimMappings: null });
    expect(cleared.json.identityTlsCertAuth).toMatchObject({ tokenAudiences: null, claimMappings: null });
  });

  it("refuses a login whose certificate has more values for a claim than a token takes (400, audited)", async () => {
    const id = await identityWith(svc, { claimMappings: { dns: "san.dns" } });
    const names = (n: number) => Array.from({ length: n }, (_, i) => `n${i}.example.org`);
    expect((await loginAs(svc, id, await makeLeaf({ issuer: root, cn: "many", sans: { dns: names(64) } }))).status).toBe(200);
    const refused = await loginAs(svc, id, await makeLeaf({ issuer: root, cn: "many", sans: { dns: names(65) } }));
    expect(refused.status).toBe(400);
    expect(refused.json.message).toContain("at most 64");
    const [event] = (await svc.admin(`/api/v1/audit-logs?identityId=${id}&limit=1`)).json.auditLogs;
    expect(event).toMatchObject({ eventType: "login-identity-tls-cert-auth-failed", reasonCode: null });
  });

  it("refuses a login whose mapped values take more than 2 KiB of the token (400)", async () => {
    const id = await identityWith(svc, { claimMappings: { u: "san.uri" } });
    // {"u":"…"} is 8 bytes around the value.
    const uri = (length: number) => `spiffe://example.org/${"p".repeat(length - 21)}`;
    expect((await loginAs(svc, id, await makeLeaf({ issuer: root, cn: "long", sans: { uri: [uri(2040)] } }))).status).toBe(200);
    const refused = await loginAs(svc, id, await makeLeaf({ issuer: root, cn: "long", sans: { uri: [uri(2041)] } }));
    expect(refused.status).toBe(400);
    expect(refused.json.message).toContain("2048 bytes");
  });
});

describe("certauth's own check of iss", () => {
  async function resigned(token: string, change: (claims: Record<string, unknown>) => Record<string, unknown>) {
    const keys = new KeyStore(svc.service.database.db, await KeyEncryption.fromSecret(KEK));
    const key = await keys.activeKey("ES256");
    const { kid } = decodeProtectedHeader(token);
    expect(kid).toBe(key.kid);
    return new SignJWT(change(decodeJwt(token))).setProtectedHeader({ alg: "ES256", typ: "JWT", kid }).sign(await importJWK(key.privateJwk!, "ES256"));
  }

  it("refuses a token of its own key with another iss, and accepts one without iss (signed before iss existed)", async () => {
    const token = (await loginAs(svc, await identityWith(svc, {}), workload)).json.accessToken;
    expect(decodeJwt(token).iss).toBe(svc.issuer);
    const foreign = await resigned(token, (claims) => ({ ...claims, iss: "https://other.example.com" }));
    const refused = await svc.call("/api/v1/auth/token/self", { headers: bearer(foreign) });
    expect(refused.status).toBe(401);
    expect(refused.headers["x-certauth-reason"]).toBe("invalid_token");
    expect((await svc.admin("/api/v1/auth/token/introspect", { body: { token: foreign } })).json).toEqual({ active: false });

    const legacy = await resigned(token, ({ iss: _iss, ...claims }) => claims);
    expect((await svc.call("/api/v1/auth/token/self", { headers: bearer(legacy) })).status).toBe(200);
    // A renewal gives it the issuer.
    const renewed = await svc.call("/api/v1/auth/token/renew", { body: { accessToken: legacy } });
    expect(decodeJwt(renewed.json.accessToken).iss).toBe(svc.issuer);
  });
});

describe("a token as large as the bounds allow", () => {
  it("stays within the 8 KiB that renew and introspect accept: RS256, a 256-character issuer, 8 audiences, bound, 2 KiB of mapped claims", async () => {
    const issuer = `https://${"i".repeat(236)}.example.org`;
    expect(issuer.length).toBe(256);
    const big = await startService("pglite", { TOKEN_SIGNING_ALG: "RS256", ISSUER_URL: issuer });
    try {
      const id = await identityWith(big, {
        bindTokensToCertificate: true,
        tokenAudiences: Array.from({ length: 8 }, (_, i) => `${"a".repeat(254)}-${i}`),
        claimMappings: { ["u".repeat(64)]: "san.uri" },
      });
      // {"u…u":"<uri>"}: 71 bytes around a 1977-character URI make exactly the 2048 bytes allowed.
      const leaf = await makeLeaf({ issuer: root, cn: "big", sans: { uri: [`spiffe://example.org/${"p".repeat(1956)}`] } });
      const login = await loginAs(big, id, leaf);
      expect(login.status).toBe(200);
      const token = login.json.accessToken as string;
      // The claims are as large as the bounds let them be (the JSON of the mapped claims alone is 2048 bytes).
      expect(JSON.stringify(decodeJwt(token)).length).toBeGreaterThan(4800);
      expect(token.length).toBeLessThanOrEqual(8192);
      const renewed = await big.call("/api/v1/auth/token/renew", { body: { accessToken: token }, cert: leaf.pem, key: leaf.keyPem });
      expect(renewed.status).toBe(200);
      expect((await big.admin("/api/v1/auth/token/introspect", { body: { token: renewed.json.accessToken } })).json.active).toBe(true);
    } finally {
      await big.stop();
    }
  }, 60_000);
});

describe("discovery under HS256", () => {
  it("answers 404: an HMAC token cannot be verified by a relying party without the secret", async () => {
    const hs = await startService("pglite", { TOKEN_SIGNING_ALG: "HS256", ISSUER_URL: "https://certauth.example.com" });
    try {
      const res = await hs.call("/.well-known/openid-configuration");
      expect(res.status).toBe(404);
      expect(res.json).toMatchObject({ statusCode: 404, error: "NotFound", message: expect.stringContaining("HS256") });
      expect((await hs.call("/.well-known/jwks.json")).json).toEqual({ keys: [] });
      const token = (await loginAs(hs, await identityWith(hs, {}), workload)).json.accessToken;
      expect(decodeJwt(token).iss).toBe("https://certauth.example.com");
      expect((await hs.call("/api/v1/auth/token/self", { headers: bearer(token) })).status).toBe(200);
    } finally {
      await hs.stop();
    }
  }, 60_000);
});
