/** PRODUCT.md §4: two instances on one PostgreSQL count the same uses, see the same revocations and share keys. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createPostgresDatabase, postgresReachable, type TestDatabase } from "../helpers/databases.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { createIdentity, createOrg, expectRefused, login, REVOKE, self } from "./world.ts";

const KEK = "test-key-encryption-key-0123456789abcdef";
const reachable = await postgresReachable();
if (!reachable && process.env.CI === "true") throw new Error("PostgreSQL is required under CI");

describe.skipIf(!reachable).each(["EdDSA", "HS256"] as const)("two instances on one PostgreSQL (%s)", (alg) => {
  let shared: TestDatabase;
  let one: RunningService;
  let two: RunningService;
  let orgId: string;

  beforeAll(async () => {
    shared = await createPostgresDatabase();
    // HS256 without AUTH_SECRET: the generated secret is kept in the database and shared.
    const env = { KEY_ENCRYPTION_KEY: KEK, TOKEN_SIGNING_ALG: alg };
    one = await startService("postgres", env, shared);
    two = await startService("postgres", env, shared);
    orgId = await createOrg(one);
  }, 60_000);
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    await shared?.drop();
  });

  it("accepts on one instance a token issued by the other", async () => {
    const { accessToken } = await login(one, await createIdentity(one, orgId));
    expect((await self(two, accessToken)).status).toBe(200);
  });

  it("allows exactly 5 of 50 concurrent uses split over both instances", async () => {
    const { accessToken } = await login(one, await createIdentity(one, orgId, { accessTokenNumUsesLimit: 5 }));
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => self(i % 2 ? one : two, accessToken)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    for (const r of results.filter((r) => r.status !== 200)) expectRefused(r, 401, "uses_exhausted");
  });

  it("refuses on the second instance, at once, a token revoked on the first", async () => {
    const { accessToken } = await login(one, await createIdentity(one, orgId));
    expect((await self(two, accessToken)).status).toBe(200);
    expect((await one.call(REVOKE, { body: { accessToken } })).status).toBe(200);
    expectRefused(await self(two, accessToken), 401, "token_revoked");
  });
});
