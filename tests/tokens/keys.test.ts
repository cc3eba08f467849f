/**
 * PRODUCT.md §1 TOKEN_SIGNING_ALG / AUTH_SECRET and §2.4 JWKS: keys generated on first start, kept encrypted in
 * the database, published with their kid, verifiable by anyone; rotation keeps old tokens valid.
 */
import { afterAll, beforeAll, describe, expect, it, setSystemTime } from "bun:test";
import { createPublicKey, verify as cryptoVerify } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import { sql } from "drizzle-orm";
import { createPostgresDatabase, embeddedDatabase, rowsOf, storageDrivers, type TestDatabase } from "../helpers/databases.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { KeyEncryption, KeyStore } from "../../src/tokens/key-store.ts";
import { ACTIVE_KEY_REFRESH_MS, rotateSigningKey } from "../../src/tokens/rotate.ts";
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

/** PRODUCT.md §1 TOKEN_SIGNING_ALG: after a change, the previous algorithm's keys are retired like rotated ones. */
describe.each(drivers)("changing TOKEN_SIGNING_ALG on %s", (driver) => {
  const MAX_TOKEN_TTL = 86_400;
  const dataDir = mkdtempSync(join(tmpdir(), "certauth-alg-change-"));
  let shared: TestDatabase;
  const start = (alg: string) =>
    startService(driver, { TOKEN_SIGNING_ALG: alg, KEY_ENCRYPTION_KEY: KEK, MAX_TOKEN_TTL: String(MAX_TOKEN_TTL), DATA_DIR: dataDir }, shared);
  const keyRows = async (svc: RunningService) =>
    rowsOf(await svc.service.database.db.execute(sql`select kid, alg, retired_at, publish_until from signing_keys order by created_at`)).map((r) => ({
      kid: String(r.kid),
      alg: String(r.alg),
      retiredAt: r.retired_at === null ? null : new Date(r.retired_at as string),
      publishUntil: r.publish_until === null ? null : new Date(r.publish_until as string),
    }));

  beforeAll(async () => {
    shared = driver === "postgres" ? await createPostgresDatabase() : embeddedDatabase();
  });
  afterAll(async () => {
    await shared?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("retires the previous algorithm's key at start: its tokens stay valid until they expire, then it leaves the JWKS", async () => {
    const first = await start("EdDSA");
    const oldToken = await tokenFrom(first);
    const oldKid = decodeProtectedHeader(oldToken).kid!;
    await first.stop();

    const before = Date.now();
    // Instances starting together with the new algorithm: one retires the key, the other finds nothing to retire.
    const [second, third] = driver === "postgres" ? await Promise.all([start("RS256"), start("RS256")]) : [await start("RS256"), undefined];
    const after = Date.now();
    try {
      const rows = await keyRows(second);
      const old = rows.find((r) => r.kid === oldKid)!;
      expect(old.retiredAt).not.toBeNull();
      expect(old.publishUntil!.getTime()).toBeGreaterThanOrEqual(before + MAX_TOKEN_TTL * 1000);
      expect(old.publishUntil!.getTime()).toBeLessThanOrEqual(after + MAX_TOKEN_TTL * 1000 + 120_000);
      expect(rows.filter((r) => r.retiredAt === null).every((r) => r.alg === "RS256")).toBe(true);

      // The EdDSA token, verified by an RS256 service, still works; the JWKS has both algorithms' keys.
      expect((await self(second, oldToken)).status).toBe(200);
      if (third) expect((await self(third, oldToken)).status).toBe(200);
      const newToken = await tokenFrom(second);
      expect(decodeProtectedHeader(newToken).alg).toBe("RS256");
      const jwks = (await second.call(JWKS)).json.keys;
      expect(jwks.map((k: { kid: string }) => k.kid)).toEqual(expect.arrayContaining([oldKid, decodeProtectedHeader(newToken).kid]));
      expect(independentlyVerify(oldToken, jwks)).toBe(true);

      // Once its last token can have expired the key is no longer published, nor accepted.
      const keys = new KeyStore(second.service.database.db, await KeyEncryption.fromSecret(KEK));
      const later = new Date(old.publishUntil!.getTime() + 1000);
      const publishedLater = (await keys.publishedKeys(later)).map((k) => k.kid);
      expect(publishedLater).not.toContain(oldKid);
      expect(publishedLater).toContain(decodeProtectedHeader(newToken).kid!);
      await expect(second.service.signer.verify(oldToken, later)).rejects.toThrow("no longer published");
    } finally {
      await third?.stop();
      await second.stop();
    }

    // Another start with the same algorithm does not push the retired key's publication further.
    const again = await start("RS256");
    try {
      const rows = await keyRows(again);
      const old = rows.find((r) => r.kid === oldKid)!;
      expect(old.publishUntil!.getTime()).toBeLessThanOrEqual(after + MAX_TOKEN_TTL * 1000 + 120_000);
      expect((await self(again, oldToken)).status).toBe(200);
    } finally {
      await again.stop();
    }

    // And back: the RS256 keys are retired, EdDSA signs with a new key, not the retired one.
    const back = await start("EdDSA");
    try {
      const rows = await keyRows(back);
      expect(rows.filter((r) => r.alg === "RS256").every((r) => r.retiredAt !== null)).toBe(true);
      const unretired = rows.filter((r) => r.retiredAt === null);
      expect(unretired.map((r) => r.alg)).toEqual(["EdDSA"]);
      expect(unretired[0]!.kid).not.toBe(oldKid);
      expect(decodeProtectedHeader(await tokenFrom(back)).kid).toBe(unretired[0]!.kid);
      expect((await self(back, oldToken)).status).toBe(200);
    } finally {
      await back.stop();
    }
  }, 120_000);

  // Two instances at once on one database: PostgreSQL's (the embedded one takes one process).
  if (driver === "postgres") it("an instance still on the previous algorithm keeps its retired key rather than making a new one", async () => {
    const old = await start("EdDSA");
    const kid = decodeProtectedHeader(await tokenFrom(old)).kid;
    const fresh = await start("ES256");
    try {
      expect((await keyRows(fresh)).find((r) => r.kid === kid)!.retiredAt).not.toBeNull();
      // Past the refresh interval the old instance looks for its algorithm's active key and finds none.
      setSystemTime(new Date(Date.now() + ACTIVE_KEY_REFRESH_MS + 5_000));
      const iat = Math.floor(Date.now() / 1000);
      const token = await old.service.signer.sign({ sub: "x" }, iat, iat + 60);
      setSystemTime();
      expect(decodeProtectedHeader(token).kid).toBe(kid);
      expect((await keyRows(fresh)).filter((r) => r.retiredAt === null).map((r) => r.alg)).toEqual(["ES256"]);
    } finally {
      setSystemTime();
      await fresh.stop();
      await old.stop();
    }
  }, 60_000);

  // A rolling change of TOKEN_SIGNING_ALG (or one instance started with the wrong one) must not cut short the tokens the others still issue.
  if (driver === "postgres") it("a retired key an instance still signs with stays published for as long as its tokens live", async () => {
    const old = await start("EdDSA");
    const kid = decodeProtectedHeader(await tokenFrom(old)).kid!;
    const fresh = await start("ES256");
    try {
      const retired = (await keyRows(fresh)).find((r) => r.kid === kid)!;
      expect(retired.publishUntil).not.toBeNull();
      // Well past the retiring instance's MAX_TOKEN_TTL window, the old instance still issues a full-length token.
      const later = new Date(Date.now() + 10 * ACTIVE_KEY_REFRESH_MS);
      setSystemTime(later);
      const iat = Math.floor(later.getTime() / 1000);
      const token = await old.service.signer.sign({ sub: "x" }, iat, iat + MAX_TOKEN_TTL);
      setSystemTime();
      expect(decodeProtectedHeader(token).kid).toBe(kid);
      const beforeExpiry = new Date((iat + MAX_TOKEN_TTL - 1) * 1000);
      expect((await keyRows(fresh)).find((r) => r.kid === kid)!.publishUntil!.getTime()).toBeGreaterThan(beforeExpiry.getTime());
      await fresh.service.signer.verify(token, beforeExpiry);
      const keys = new KeyStore(fresh.service.database.db, await KeyEncryption.fromSecret(KEK));
      expect((await keys.publishedKeys(beforeExpiry)).map((k) => k.kid)).toContain(kid);
      // The key is still retired: a start on either algorithm does not take it back as the active key.
      expect((await keyRows(fresh)).find((r) => r.kid === kid)!.retiredAt).not.toBeNull();
    } finally {
      setSystemTime();
      await fresh.stop();
      await old.stop();
    }
  }, 60_000);
});
