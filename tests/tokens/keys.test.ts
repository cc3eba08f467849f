/**
 * PRODUCT.md §1 TOKEN_SIGNING_ALG / AUTH_SECRET and §2.4 JWKS: keys generated on first start, kept encrypted in
 * the database, published with their kid, verifiable by anyone; rotation keeps old tokens valid.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createPublicKey, verify as cryptoVerify } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import { sql } from "drizzle-orm";
import { rowsOf, storageDrivers } from "../helpers/databases.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { KeyEncryption, KeyStore } from "../../src/tokens/key-store.ts";
import { rotateSigningKey } from "../../src/tokens/rotate.ts";
import { createIdentity, createOrg, expectRefused, JWKS, login, self } from "./world.ts";

const drivers = await storageDrivers();
const KEK = "test-key-encryption-key-0123456789abcdef";
const AUTH_SECRET = "test-auth-secret-0123456789abcdefghijkl";

/** Verifies a JWT with node:crypto alone, from the JWKS the service publishes. */
function independentlyVerify(token: string, keys: Record<string, unknown>[]): boolean {
  const [header, payload, signature] = token.split(".") as [string, string, string];
  const { kid, alg } = decodeProtectedHeader(token);
  const jwk = keys.find((k) => k.kid === kid);
  if (!jwk) return false;
  const key = createPublicKey({ key: jwk as never, format: "jwk" });
  const data = Buffer.from(`${header}.${payload}`);
  const sig = Buffer.from(signature, "base64url");
  if (alg === "EdDSA") return cryptoVerify(null, data, key, sig);
  if (alg === "ES256") return cryptoVerify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, sig);
  if (alg === "RS256") return cryptoVerify("sha256", data, key, sig);
  return false;
}

async function tokenFrom(svc: RunningService): Promise<string> {
  return (await login(svc, await createIdentity(svc, await createOrg(svc)))).accessToken;
}

describe.each(drivers)("signing keys on %s", (driver) => {
  for (const alg of ["EdDSA", "ES256", "RS256"] as const) {
    describe(alg, () => {
      let svc: RunningService;
      beforeAll(async () => {
        svc = await startService(driver, { TOKEN_SIGNING_ALG: alg, KEY_ENCRYPTION_KEY: KEK });
      }, 60_000);
      afterAll(() => svc?.stop());

      it("publishes the key with its kid, and node:crypto verifies a token with it", async () => {
        const token = await tokenFrom(svc);
        const jwks = await svc.call(JWKS);
        expect(jwks.status).toBe(200);
        const header = decodeProtectedHeader(token);
        expect(header.alg).toBe(alg);
        expect(jwks.json.keys).toContainEqual(expect.objectContaining({ kid: header.kid, alg, use: "sig" }));
        for (const key of jwks.json.keys) expect(key.d).toBeUndefined();
        expect(independentlyVerify(token, jwks.json.keys)).toBe(true);
        const tampered = `${token.split(".")[0]}.${Buffer.from(JSON.stringify({ ...decodeJwt(token), orgId: "x" })).toString("base64url")}.${token.split(".")[2]}`;
        expect(independentlyVerify(tampered, jwks.json.keys)).toBe(false);
      });

      it("keeps private keys encrypted at rest", async () => {
        const rows = rowsOf(await svc.service.database.db.execute(sql`select kid, public_jwk, private_key_enc from signing_keys`));
        expect(rows.length).toBeGreaterThan(0);
        for (const row of rows) {
          expect(String(row.private_key_enc)).toMatch(/^v1\./);
          expect(String(row.private_key_enc)).not.toContain('"d"');
          const publicJwk = typeof row.public_jwk === "string" ? JSON.parse(row.public_jwk) : row.public_jwk;
          expect(publicJwk.d).toBeUndefined();
        }
      });

      it("rotates: old tokens stay valid and published, new tokens carry the new kid", async () => {
        const before = await tokenFrom(svc);
        const oldKid = decodeProtectedHeader(before).kid;
        const newKid = await svc.service.signer.rotate(svc.service.config.MAX_TOKEN_TTL);
        expect(newKid).not.toBe(oldKid);

        const after = await tokenFrom(svc);
        expect(decodeProtectedHeader(after).kid).toBe(newKid);
        const keys = (await svc.call(JWKS)).json.keys;
        expect(keys.map((k: { kid: string }) => k.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
        expect(independentlyVerify(before, keys)).toBe(true);
        expect(independentlyVerify(after, keys)).toBe(true);
        expect((await self(svc, before)).status).toBe(200);
        expect((await self(svc, after)).status).toBe(200);
      });

      it("stops verifying a rotated-out key's tokens once the key is no longer published", async () => {
        const signer = svc.service.signer;
        const iat = Math.floor(Date.now() / 1000);
        const token = await signer.sign({ sub: "x" }, iat, iat + 3 * 3600);
        await signer.verify(token, new Date());
        await signer.rotate(60);
        await signer.verify(token, new Date(Date.now() + 30_000));
        await expect(signer.verify(token, new Date(Date.now() + 120_000))).rejects.toThrow("no longer published");
      });

      it("rotateSigningKey (the CLI's entry point) keeps the replaced keys published until the last token they signed can have expired", async () => {
        const keys = new KeyStore(svc.service.database.db, await KeyEncryption.fromSecret(KEK));
        const now = new Date();
        const replaced = (await keys.activeKey(alg)).kid;
        const rotation = await rotateSigningKey(keys, alg, 3600, now);
        expect(rotation.oldKeysPublishedUntil.getTime()).toBeGreaterThanOrEqual(now.getTime() + 3600_000);
        const after = (await svc.call(JWKS)).json.keys.map((k: { kid: string }) => k.kid);
        expect(after).toEqual(expect.arrayContaining([replaced, rotation.kid]));
        const kidsAt = async (ms: number) => (await keys.publishedKeys(new Date(ms))).map((k) => k.kid);
        expect(await kidsAt(rotation.oldKeysPublishedUntil.getTime() - 1000)).toContain(replaced);
        const later = await kidsAt(rotation.oldKeysPublishedUntil.getTime() + 1000);
        expect(later).toContain(rotation.kid);
        expect(later).not.toContain(replaced);
      });
    });
  }

  describe("HS256", () => {
    let svc: RunningService;
    beforeAll(async () => {
      svc = await startService(driver, { TOKEN_SIGNING_ALG: "HS256", AUTH_SECRET });
    }, 60_000);
    afterAll(() => svc?.stop());

    it("signs with AUTH_SECRET (Infisical-compatible) and publishes an empty JWKS", async () => {
      const token = await tokenFrom(svc);
      expect(decodeProtectedHeader(token).alg).toBe("HS256");
      const { payload } = await jwtVerify(token, new TextEncoder().encode(AUTH_SECRET), { algorithms: ["HS256"] });
      expect(payload.authTokenType).toBe("identityAccessToken");
      expect((await svc.call(JWKS)).json).toEqual({ keys: [] });
      expect((await self(svc, token)).status).toBe(200);
    });

    it("refuses a token signed with another secret", async () => {
      const token = await tokenFrom(svc);
      const forged = await new SignJWT(decodeJwt(token))
        .setProtectedHeader(decodeProtectedHeader(token) as { alg: string })
        .sign(new TextEncoder().encode("another-secret-0123456789abcdefghijklmnop"));
      expectRefused(await self(svc, forged), 401, "invalid_token");
    });
  });
});
