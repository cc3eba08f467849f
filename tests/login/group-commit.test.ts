/**
 * The login's batched writes and remembered rows: concurrent logins share statements and each still gets
 * its own durable token row and audit event; a remembered identity row that went stale (configuration
 * changed, detached, identity deleted, changed through another instance) never decides a login.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { decodeJwt } from "jose";
import { GroupCommit, pgArray } from "../../src/db/group-commit.ts";
import { prepareStatement } from "../../src/db/prepared.ts";
import { createLogin } from "../../src/login/login.ts";
import { TrustCache } from "../../src/pki/index.ts";
import { timeOrderedUuid } from "../../src/uuid.ts";
import { createTestDatabase, storageDrivers, type TestDatabase } from "../helpers/databases.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { bundle, makeCa, makeLeaf, type Issued } from "../fixtures/pki.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";
const drivers = await storageDrivers();
const rootA = await makeCa({ subject: "CN=Batch Root A" });
const rootB = await makeCa({ subject: "CN=Batch Root B" });
const leafA = await makeLeaf({ issuer: rootA, cn: "batch-a" });
const leafB = await makeLeaf({ issuer: rootB, cn: "batch-b" });
const tlsOf = (leaf: Issued) => ({ cert: bundle(leaf), key: leaf.keyPem });

/** A promise and the function that settles it, to hold a batch in flight. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** One turn of the event loop: what GroupCommit waits for before a batch leaves. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Other work in this turn of the event loop: 1 ms of it, far above an empty turn. */
function busy() {
  const until = performance.now() + 1;
  while (performance.now() < until);
}

/** A GroupCommit whose first batch is held in the database until `first.open()`; every batch is recorded. */
function gatedCommit(maxBatch: number, answer: (n: number) => number) {
  const batches: number[][] = [];
  const first = gate();
  const commit = new GroupCommit<number, number>(
    async (items) => {
      batches.push(items);
      if (batches.length === 1) await first.opened;
      return items.map(answer);
    },
    { maxBatch, concurrency: 1 },
  );
  return { batches, first, commit };
}

describe("timeOrderedUuid", () => {
  it("is a UUIDv7 whose first 48 bits are the milliseconds, so later ids sort after earlier ones", () => {
    const at = Date.UTC(2026, 11, 1, 5, 30, 0, 123);
    const id = timeOrderedUuid(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
    expect(timeOrderedUuid(at + 1) > timeOrderedUuid(at)).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => timeOrderedUuid(at))).size).toBe(1000);
  });
});

describe("GroupCommit", () => {
  it("sends items that arrive while a batch is in flight together as the next batch, answers in order", async () => {
    const { batches, first, commit } = gatedCommit(64, (n) => n * 10);
    const lone = commit.submit(1);
    await turn();
    expect(batches).toEqual([[1]]);
    const queued = [2, 3, 4, 5, 6].map((n) => commit.submit(n));
    first.open();
    expect(await lone).toBe(10);
    expect(await Promise.all(queued)).toEqual([20, 30, 40, 50, 60]);
    expect(batches).toEqual([[1], [2, 3, 4, 5, 6]]);
  });

  it("sends what was submitted in one turn of the event loop as one batch", async () => {
    const batches: number[][] = [];
    const commit = new GroupCommit<number, number>(async (items) => (batches.push(items), items), { maxBatch: 64, concurrency: 1 });
    expect(await Promise.all([1, 2, 3].map((n) => commit.submit(n)))).toEqual([1, 2, 3]);
    expect(await commit.submit(4)).toBe(4);
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it("holds a batch while the event loop is busy with other work, so logins arriving one per turn go together", async () => {
    const batches: number[][] = [];
    const commit = new GroupCommit<number, number>(async (items) => (batches.push(items), items), { maxBatch: 64, concurrency: 1, maxWaitMs: 120_000 });
    const all = [commit.submit(1)];
    busy();
    // Each of the next two turns does other work (a handshake, say) and brings one more item.
    await turn();
    busy();
    all.push(commit.submit(2));
    await turn();
    busy();
    all.push(commit.submit(3));
    expect(await Promise.all(all)).toEqual([1, 2, 3]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it("does not hold a lone item: a turn with nothing else to do sends it", async () => {
    const batches: number[][] = [];
    // Were the batch held for maxWaitMs, this test would time out.
    const commit = new GroupCommit<number, number>(async (items) => (batches.push(items), items), { maxBatch: 64, concurrency: 1, maxWaitMs: 120_000 });
    expect(await commit.submit(1)).toBe(1);
    expect(await Promise.all([commit.submit(2), commit.submit(3)])).toEqual([2, 3]);
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it("sends a held batch after maxWaitMs even while the event loop stays busy", async () => {
    const batches: number[][] = [];
    const commit = new GroupCommit<number, number>(async (items) => (batches.push(items), items), { maxBatch: 1000, concurrency: 1, maxWaitMs: 5 });
    const all: Promise<number>[] = [];
    // 200 busy turns of at least 1 ms each, an item per turn: far longer than maxWaitMs.
    for (let i = 0; i < 200; i++) {
      all.push(commit.submit(i));
      busy();
      await turn();
    }
    await Promise.all(all);
    expect(batches.flat()).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(batches.length).toBeGreaterThan(1);
  });

  it("caps a batch at maxBatch", async () => {
    const { batches, first, commit } = gatedCommit(3, (n) => n);
    const all = [commit.submit(0)];
    await turn();
    all.push(...[1, 2, 3, 4, 5, 6].map((n) => commit.submit(n)));
    first.open();
    expect(await Promise.all(all)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(batches).toEqual([[0], [1, 2, 3], [4, 5, 6]]);
  });

  it("retries a failed batch item by item, so one bad item fails alone", async () => {
    const first = gate();
    let calls = 0;
    const commit = new GroupCommit<number, number>(
      async (items) => {
        if (calls++ === 0) await first.opened;
        if (items.includes(13)) throw new Error("unlucky");
        return items;
      },
      { maxBatch: 64, concurrency: 1 },
    );
    const results = [1, 12, 13, 14].map((n) => commit.submit(n).then((v) => ({ v }), (e: Error) => ({ e: e.message })));
    first.open();
    expect(await Promise.all(results)).toEqual([{ v: 1 }, { v: 12 }, { e: "unlucky" }, { v: 14 }]);
  });
});

describe.each(drivers)("login batching on %s", (driver) => {
  let svc: RunningService;
  let orgId: string;

  async function identityWith(config: Record<string, unknown>): Promise<string> {
    const identity = await svc.admin("/api/v1/identities", { body: { name: `b-${crypto.randomUUID()}`, organizationId: orgId } });
    const id = identity.json.identity.id as string;
    const attached = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: rootA.pem, ...config } });
    expect(attached.status).toBe(200);
    return id;
  }

  beforeAll(async () => {
    svc = await startService(driver, { LOGIN_RATE_LIMIT: "0" });
    orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Batch", slug: "batch" } })).json.organization.id;
  }, 120_000);
  afterAll(() => svc?.stop());

  it("round-trips array parameters with quotes, backslashes, commas, braces, NULL and unicode", async () => {
    const values = ['plain', 'a "quoted" one', "back\\slash\\", "comma, {brace}", "", null, "NULL", "ünï ☃", "CN=x\\00y"];
    const unnest = prepareStatement(svc.service.database.db, "test_unnest", "select v from unnest($1::text[]) with ordinality as u(v, n) order by n");
    const rows = await unnest([pgArray(values)]);
    expect(rows.map((r) => r[0])).toEqual(values);
  });

  it("answers 40 concurrent logins, each with its own token row and audit event", async () => {
    const ids = [await identityWith({}), await identityWith({ accessTokenTTL: 900 })];
    const startedAt = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => svc.call(LOGIN, { body: { identityId: ids[i % 2] }, ...tlsOf(leafA) })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
    const jtis = new Set(answers.map((a) => decodeJwt(a.json.accessToken).jti));
    expect(jtis.size).toBe(40);
    const successIds: string[] = [];
    for (const [i, id] of ids.entries()) {
      const events = (await svc.admin(`/api/v1/audit-logs?identityId=${id}&limit=100`)).json.auditLogs as { id: string; eventType: string }[];
      const successes = events.filter((e) => e.eventType === "login-identity-tls-cert-auth");
      expect(successes.length).toBe(20);
      successIds.push(...successes.map((e) => e.id));
      expect(answers.filter((_, n) => n % 2 === i).every((a) => a.json.expiresIn === (i === 0 ? 2592000 : 900))).toBe(true);
    }
    // Each event has an id of its own, made by the service in time order (UUIDv7), not by the database.
    const eventIds = new Set(successIds);
    expect(eventIds.size).toBe(40);
    const msOf = (id: string) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    for (const id of eventIds) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(msOf(id)).toBeGreaterThanOrEqual(startedAt);
      expect(msOf(id)).toBeLessThanOrEqual(Date.now());
    }
    // Every issued token is usable: its row is there.
    const selves = await Promise.all(
      answers.map((a) => svc.call("/api/v1/auth/token/self", { headers: { authorization: `Bearer ${a.json.accessToken}` } })),
    );
    expect(selves.map((r) => r.status)).toEqual(Array(40).fill(200));
  });

  it("follows a configuration change after a login: the old CA is refused, the new one and the new TTL apply", async () => {
    const id = await identityWith({ accessTokenTTL: 600 });
    expect((await svc.call(LOGIN, { body: { identityId: id }, ...tlsOf(leafA) })).status).toBe(200);
    const patched = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, {
      method: "PATCH",
      body: { caCertificate: rootB.pem, accessTokenTTL: 120 },
    });
    expect(patched.status).toBe(200);
    const old = await svc.call(LOGIN, { body: { identityId: id }, ...tlsOf(leafA) });
    expect(old.status).toBe(401);
    expect(old.headers["x-certauth-reason"]).toBe("ca_verification_failed");
    const fresh = await svc.call(LOGIN, { body: { identityId: id }, ...tlsOf(leafB) });
    expect(fresh.status).toBe(200);
    expect(fresh.json.expiresIn).toBe(120);
  });

  it("a change of TTL alone, right after a login, is in the next token", async () => {
    const id = await identityWith({ accessTokenTTL: 600 });
    expect((await svc.call(LOGIN, { body: { identityId: id }, ...tlsOf(leafA) })).json.expiresIn).toBe(600);
    for (const ttl of [300, 301, 302]) {
      await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { method: "PATCH", body: { accessTokenTTL: ttl } });
      expect((await svc.call(LOGIN, { body: { identityId: id }, ...tlsOf(leafA) })).json.expiresIn).toBe(ttl);
    }
  });

  it("retries a remembered row only on a refusal: a fault fails the login instead of being read again", async () => {
    const id = await identityWith({});
    const { database, config, signer } = svc.service;
    let faults = 0;
    const flaky = { ...signer, sign: (...args: Parameters<typeof signer.sign>) => (faults-- > 0 ? Promise.reject(new Error("signer fault")) : signer.sign(...args)) };
    const login = createLogin({ db: database.db, config, signer: flaky, clock: () => new Date(), trustCache: new TrustCache() });
    const request = { identityId: id, chain: () => [leafA.der], clientIp: "127.0.0.1" };
    expect((await login(request)).tokenType).toBe("Bearer");
    faults = 1;
    await expect(login(request)).rejects.toThrow("signer fault");
    expect((await login(request)).tokenType).toBe("Bearer");
  });

  it("refuses a login after the configuration is detached or the identity deleted", async () => {
    const detached = await identityWith({});
    const deleted = await identityWith({});
    for (const id of [detached, deleted]) expect((await svc.call(LOGIN, { body: { identityId: id }, ...tlsOf(leafA) })).status).toBe(200);
    expect((await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${detached}`, { method: "DELETE" })).status).toBe(200);
    expect((await svc.admin(`/api/v1/identities/${deleted}`, { method: "DELETE" })).status).toBe(200);
    for (const id of [detached, deleted]) {
      const res = await svc.call(LOGIN, { body: { identityId: id }, ...tlsOf(leafA) });
      expect(res.status).toBe(404);
    }
  });
});

const hasPostgres = drivers.includes("postgres");
describe.skipIf(!hasPostgres)("two instances on one PostgreSQL database", () => {
  let database: TestDatabase;
  let one: RunningService;
  let two: RunningService;
  beforeAll(async () => {
    database = await createTestDatabase("postgres");
    const env = { LOGIN_RATE_LIMIT: "0", KEY_ENCRYPTION_KEY: "group-commit-test-kek-0123456789abcdefghij" };
    one = await startService("postgres", env, database);
    two = await startService("postgres", env, database);
  }, 120_000);
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    await database?.drop();
  });

  it("a change made through one instance decides the next login on the other", async () => {
    const orgId = (await two.admin("/api/v1/organizations", { body: { name: "Two", slug: "two" } })).json.organization.id;
    const id = (await two.admin("/api/v1/identities", { body: { name: "shared", organizationId: orgId } })).json.identity.id;
    await two.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: rootA.pem, accessTokenTTL: 600 } });
    expect((await one.call(LOGIN, { body: { identityId: id }, ...tlsOf(leafA) })).json.expiresIn).toBe(600);

    await two.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { method: "PATCH", body: { accessTokenTTL: 60 } });
    expect((await one.call(LOGIN, { body: { identityId: id }, ...tlsOf(leafA) })).json.expiresIn).toBe(60);

    await two.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { method: "PATCH", body: { caCertificate: rootB.pem } });
    expect((await one.call(LOGIN, { body: { identityId: id }, ...tlsOf(leafA) })).status).toBe(401);
    expect((await one.call(LOGIN, { body: { identityId: id }, ...tlsOf(leafB) })).status).toBe(200);

    expect((await two.admin(`/api/v1/identities/${id}`, { method: "DELETE" })).status).toBe(200);
    expect((await one.call(LOGIN, { body: { identityId: id }, ...tlsOf(leafB) })).status).toBe(404);
  });
});
