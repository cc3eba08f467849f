/**
 * Two instances on one PostgreSQL under a mixed concurrent workload: logins, uses, renewals and revocations
 * on both at once. Use limits stay exact (a renewed token shares its jti's count), a revocation answered on
 * one instance holds on both at once, every request completes (no deadlock) and no jti is issued twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import postgres from "postgres";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";
import { createPostgresDatabase, postgresReachable, type TestDatabase } from "../helpers/databases.ts";
import type { CallResult } from "../helpers/https.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { jwtClaims, LOGIN, RENEW, REVOKE, SELF } from "./support.ts";

const KEK = "reliability-key-encryption-key-0123456789";
const reachable = await postgresReachable();
if (!reachable && process.env.CI === "true") throw new Error("PostgreSQL is required under CI");

const root = await makeCa({ subject: "CN=Two Instances Root" });
const leaf = await makeLeaf({ issuer: root, cn: "svc-two" });
const withCert = { cert: leaf.pem, key: leaf.keyPem };
const LIMIT = 4;

describe.skipIf(!reachable)("two instances on one PostgreSQL, mixed concurrent workload", () => {
  let shared: TestDatabase;
  let instances: [RunningService, RunningService];
  let limitedId: string;
  let freeId: string;

  beforeAll(async () => {
    shared = await createPostgresDatabase();
    const env = { KEY_ENCRYPTION_KEY: KEK, LOGIN_RATE_LIMIT: "0" };
    const one = await startService("postgres", env, shared);
    const two = await startService("postgres", env, shared);
    instances = [one, two];
    const org = (await one.admin("/api/v1/organizations", { body: { name: "Two", slug: "two" } })).json.organization.id;
    const make = async (config: Record<string, unknown>) => {
      const id = (await two.admin("/api/v1/identities", { body: { name: `i-${crypto.randomUUID()}`, organizationId: org } })).json.identity.id;
      const res = await one.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: root.pem, accessTokenTTL: 60, accessTokenMaxTTL: 3600, ...config } });
      expect(res.status).toBe(200);
      return id;
    };
    limitedId = await make({ accessTokenNumUsesLimit: LIMIT });
    freeId = await make({});
  }, 60_000);
  afterAll(async () => {
    await instances?.[0]?.stop();
    await instances?.[1]?.stop();
    await shared?.drop();
  }, 30_000);

  it("keeps limits exact, revocations immediate on both, completes every request and never repeats a jti", async () => {
    const on = (i: number) => instances[i % 2]!;
    const requests: Promise<CallResult>[] = [];
    const track = (p: Promise<CallResult>) => (requests.push(p), p);
    const login = async (i: number, identityId: string) => {
      const res = await track(on(i).call(LOGIN, { body: { identityId }, ...withCert }));
      expect(res.status).toBe(200);
      return res.json.accessToken as string;
    };
    const use = (i: number, token: string) => track(on(i).call(SELF, { headers: { authorization: `Bearer ${token}` } }));

    /** 10 uses over both instances, with 2 renewals in between; the renewed tokens spend the same count. */
    const limitedScenario = async (n: number) => {
      const token = await login(n, limitedId);
      const renewals = [1, 2].map((k) => track(on(n + k).call(RENEW, { body: { accessToken: token } })));
      const early = Array.from({ length: 5 }, (_, k) => use(n + k, token));
      const renewAnswers = await Promise.all(renewals);
      // A renewal that comes after the last use is refused: an exhausted token cannot be renewed.
      for (const r of renewAnswers.filter((r) => r.status !== 200)) expect([r.status, r.headers["x-certauth-reason"]]).toEqual([401, "uses_exhausted"]);
      const renewed = renewAnswers.filter((r) => r.status === 200).map((r) => r.json.accessToken as string);
      const late = Array.from({ length: 5 }, (_, k) => use(n + k + 1, renewed[k % Math.max(renewed.length, 1)] ?? token));
      const uses = await Promise.all([...early, ...late]);
      return { jti: jwtClaims(token).jti as string, ok: uses.filter((u) => u.status === 200).length, renewedOk: renewed.length, refused: uses.filter((u) => u.status !== 200) };
    };

    /** Uses in flight on both instances while one revokes; every use after the answer fails on both. */
    const revokeScenario = async (n: number) => {
      const token = await login(n, freeId);
      const inFlight = Array.from({ length: 4 }, (_, k) => use(n + k, token));
      const revoked = await track(on(n + 1).call(REVOKE, { body: { accessToken: token } }));
      expect(revoked.status).toBe(200);
      const after = await Promise.all([use(n, token), use(n + 1, token), track(on(n).call(RENEW, { body: { accessToken: token } }))]);
      await Promise.all(inFlight);
      return { jti: jwtClaims(token).jti as string, after };
    };

    const extraLogins = Array.from({ length: 30 }, (_, i) => login(i, i % 2 ? limitedId : freeId));
    const started = Date.now();
    const [limited, revokedRuns, extra] = await Promise.race([
      Promise.all([
        Promise.all(Array.from({ length: 12 }, (_, n) => limitedScenario(n))),
        Promise.all(Array.from({ length: 12 }, (_, n) => revokeScenario(n))),
        Promise.all(extraLogins),
      ]),
      Bun.sleep(90_000).then(() => {
        throw new Error("the workload did not complete within 90 s: a request hung");
      }),
    ]);
    const all = await Promise.all(requests);
    const elapsed = Date.now() - started;

    expect(all.filter((r) => r.status >= 500)).toEqual([]);
    for (const run of limited) {
      expect(run.ok).toBe(LIMIT);
      for (const r of run.refused) {
        expect(r.status).toBe(401);
        expect(r.headers["x-certauth-reason"]).toBe("uses_exhausted");
      }
    }
    for (const run of revokedRuns) {
      for (const r of run.after) {
        expect(r.status).toBe(401);
        expect(r.headers["x-certauth-reason"]).toBe("token_revoked");
      }
    }
    const jtis = [...limited.map((r) => r.jti), ...revokedRuns.map((r) => r.jti), ...extra.map((t) => jwtClaims(t).jti as string)];
    expect(new Set(jtis).size).toBe(jtis.length);

    const sql = postgres(shared.url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`select id, num_uses, num_uses_limit, revoked_at from identity_access_tokens where id = any(${jtis}::uuid[])`;
      expect(rows.length).toBe(jtis.length);
      for (const run of limited) expect(rows.find((r) => r.id === run.jti)?.num_uses).toBe(LIMIT);
      for (const run of revokedRuns) expect(rows.find((r) => r.id === run.jti)?.revoked_at).not.toBeNull();
    } finally {
      await sql.end({ timeout: 2 });
    }
    console.log(
      `reliability: two instances — ${all.length} concurrent requests (${jtis.length} logins, ${limited.length} tokens limited to ${LIMIT} uses with ` +
        `${limited.reduce((n, r) => n + r.renewedOk, 0)} renewals, ${revokedRuns.length} revoked mid-use) completed in ${elapsed} ms; ` +
        `uses over the limit 0, uses after revocation 0, duplicate jti 0`,
    );
  }, 120_000);
});
