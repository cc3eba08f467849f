/**
 * Where a login's time goes, without TLS: the real app in process (DATABASE_URL or PGlite on disk),
 * logins driven through app.fetch one at a time, then each stage of the login timed on its own.
 *
 *   bun bench/profile.ts [logins]                    sequential and 16-at-once logins, then stage timings
 *   PROFILE_STAGES=0 bun --cpu-prof-md --cpu-prof-dir=/tmp bench/profile.ts   a CPU profile of the app.fetch logins only
 *   bun bench/profile.ts --tls [--rounds 3] …       over real mTLS, stage by stage, a new connection's login against a
 *                                                  kept-alive one (bench/profile-tls.ts)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq, sql } from "drizzle-orm";
import { bootstrap } from "../src/server/bootstrap.ts";
import { auditLogs, identities, identityAccessTokens, identityTlsCertAuths, organizations } from "../src/db/schema.ts";
import { summarizeLeaf, TrustCache, verifyChain } from "../src/pki/index.ts";
import { trustSettingsOf } from "../src/admin/tls-cert-auth.ts";
import { createLogin } from "../src/login/login.ts";
import { issuedRecords, type IssuedRecord } from "../src/tokens/issued-record.ts";
import { makeCa, makeCrl, makeLeaf, randomSerial } from "../tests/fixtures/pki.ts";

if (process.argv.includes("--tls")) {
  await import("./profile-tls.ts");
  process.exit(0);
}
const LOGINS = Number(process.argv[2] ?? 2000);
/** Minor page faults of this process so far: memory the allocator gave back and took again, or touched first. */
const faults = () => process.resourceUsage().minorPageFault;
const perOp = (from: number, n: number) => `${((faults() - from) / n).toFixed(2)} page faults`;
const CRL_SERIALS = Number(process.env.PROFILE_CRL ?? 0);
const dataDir = mkdtempSync(join(tmpdir(), "certauth-profile-"));
const service = await bootstrap(
  { DATA_DIR: dataDir, DATABASE_URL: process.env.DATABASE_URL, ADMIN_TOKEN: "profile-admin-token-0123456789abcdefghijkl", LOG_LEVEL: process.env.LOG_LEVEL ?? "silent", LOGIN_RATE_LIMIT: "0" },
  () => {},
);
const { db } = service.database;
try {
  const root = await makeCa({ subject: "CN=Profile Root" });
  const leaf = await makeLeaf({ issuer: root, cn: "profile-client" });
  const crl = CRL_SERIALS ? (await makeCrl({ issuer: root, revoked: Array.from({ length: CRL_SERIALS }, randomSerial) })).pem : null;
  const orgId = crypto.randomUUID();
  const identityId = crypto.randomUUID();
  await db.insert(organizations).values({ id: orgId, name: "P", slug: `p-${orgId.slice(0, 8)}`, rootOrgId: orgId });
  await db.insert(identities).values({ id: identityId, name: "p", orgId });
  await db.insert(identityTlsCertAuths).values({
    identityId,
    caCertificate: root.pem,
    crls: crl,
    accessTokenTrustedIps: [{ ipAddress: "0.0.0.0", type: "ipv4", prefix: 0 }],
    accessTokenTTL: 3600,
    accessTokenMaxTTL: 3600,
  });
  const peer = { remoteAddress: "127.0.0.1", certificateChain: [leaf.der] };
  const body = JSON.stringify({ identityId });
  const fetchOnce = async () => {
    const res = await service.app.fetch(
      new Request("https://localhost/api/v1/auth/tls-cert-auth/login", { method: "POST", headers: { "content-type": "application/json" }, body }),
      { peer },
    );
    if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };
  for (let i = 0; i < 200; i++) await fetchOnce();
  const t = performance.now();
  for (let i = 0; i < LOGINS; i++) await fetchOnce();
  const perLogin = (performance.now() - t) / LOGINS;
  console.log(`app.fetch login, sequential: ${(perLogin * 1000).toFixed(0)} µs (${(1000 / perLogin).toFixed(0)}/s)`);
  // The same logins from 16 callers at once, as 16 keep-alive connections would send them: the database
  // statements are shared (group commit). CPU per login is what a noisy machine disturbs least.
  const callers = 16;
  const cpu0 = process.cpuUsage();
  const f16 = faults();
  const t16 = performance.now();
  let left = LOGINS;
  await Promise.all(Array.from({ length: callers }, async () => { while (left-- > 0) await fetchOnce(); }));
  const cpu = process.cpuUsage(cpu0);
  console.log(`  rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
  console.log(
    `app.fetch login, ${callers} at once: ${(((performance.now() - t16) / LOGINS) * 1000).toFixed(0)} µs wall, ` +
      `${((cpu.user + cpu.system) / LOGINS).toFixed(0)} µs CPU, ${perOp(f16, LOGINS)} per login`,
  );

  // The login service alone (no HTTP, no Hono), 16 at once: what the app around it adds is the difference.
  {
    const login = createLogin({ db, config: service.config, signer: service.signer, clock: () => new Date(), trustCache: new TrustCache() });
    const request = { identityId, chain: () => [leaf.der], clientIp: "127.0.0.1" };
    for (let i = 0; i < 200; i++) await login(request);
    const c0 = process.cpuUsage();
    const f0 = faults();
    const t0 = performance.now();
    let n = LOGINS;
    await Promise.all(Array.from({ length: callers }, async () => { while (n-- > 0) await login(request); }));
    const c = process.cpuUsage(c0);
    console.log(
      `login() alone, ${callers} at once: ${(((performance.now() - t0) / LOGINS) * 1000).toFixed(0)} µs wall, ` +
        `${((c.user + c.system) / LOGINS).toFixed(0)} µs CPU, ${perOp(f0, LOGINS)} per login`,
    );
  }
  if (process.env.PROFILE_STAGES === "0") process.exit(0);
  const stage = async (label: string, fn: () => Promise<unknown>, n = LOGINS) => {
    for (let i = 0; i < Math.min(100, n); i++) await fn();
    const f0 = faults();
    const s = performance.now();
    for (let i = 0; i < n; i++) await fn();
    console.log(`  ${label.padEnd(44)} ${(((performance.now() - s) / n) * 1000).toFixed(1).padStart(8)} µs, ${perOp(f0, n)}`);
  };
  const [row] = await db
    .select({ identity: identities, org: organizations, tlsCertAuth: identityTlsCertAuths })
    .from(identities)
    .innerJoin(organizations, eq(organizations.id, identities.orgId))
    .leftJoin(identityTlsCertAuths, eq(identityTlsCertAuths.identityId, identities.id))
    .where(eq(identities.id, identityId))
    .limit(1);
  const cache = new TrustCache();
  const key = `${row!.tlsCertAuth!.id}:${row!.tlsCertAuth!.updatedAt.getTime()}`;
  const trust = await cache.get(key, trustSettingsOf(row!.tlsCertAuth!));
  await stage("summarizeLeaf", () => summarizeLeaf(leaf.der));
  await stage("select identity ⨝ org ⨝ configuration", () =>
    db
      .select({ identity: identities, org: organizations, tlsCertAuth: identityTlsCertAuths })
      .from(identities)
      .innerJoin(organizations, eq(organizations.id, identities.orgId))
      .leftJoin(identityTlsCertAuths, eq(identityTlsCertAuths.identityId, identities.id))
      .where(eq(identities.id, identityId))
      .limit(1),
  );
  await stage("trustCache.get (hit)", () => cache.get(key, trustSettingsOf(row!.tlsCertAuth!)));
  await stage("verifyChain (verified-chain cache hit)", () => verifyChain(trust, [leaf.der], new Date()));
  const iat = Math.floor(Date.now() / 1000);
  await stage(`signer.sign (${service.signer.alg})`, () => service.signer.sign({ sub: identityId, jti: crypto.randomUUID() }, iat, iat + 3600));
  await stage("insert token + audit (one statement)", () =>
    db.execute(sql`
      with issued as (
        insert into ${identityAccessTokens} (id, identity_id, org_id, auth_method, expires_at, access_token_ttl, access_token_max_ttl)
        values (${crypto.randomUUID()}, ${identityId}, ${orgId}, 'tls-cert-auth', ${new Date(Date.now() + 3600e3).toISOString()}, 3600, 3600)
        returning id)
      insert into ${auditLogs} (event_type, identity_id, org_id) select 'x', ${identityId}, ${orgId} from issued`),
  );
  await stage("select 1", () => db.execute(sql`select 1`));
  // The login's own write (token rows and audit events, group-committed), 13 at once as keep-alive batches hold them.
  {
    const record = issuedRecords(db);
    const configId = row!.tlsCertAuth!.id;
    // The version exactly as PostgreSQL holds it (microseconds); the write compares it with updated_at.
    const read = (await db.execute(sql`select ${identityTlsCertAuths.updatedAt}::text as v from ${identityTlsCertAuths} where ${identityTlsCertAuths.id} = ${configId}`)) as unknown;
    const configVersion = ((Array.isArray(read) ? read : (read as { rows: unknown[] }).rows) as { v: string }[])[0]!.v;
    const slug = row!.org.slug;
    const one = (): IssuedRecord => {
      const now = new Date();
      return {
        id: crypto.randomUUID(), identityId, orgId, createdAt: now, expiresAt: new Date(now.getTime() + 3600e3), accessTokenTTL: 3600, accessTokenMaxTTL: 3600,
        numUsesLimit: 0, certThumbprint: null, configId, configVersion, homeOrgId: orgId, homeOrgSlug: slug, fingerprint: "ab".repeat(32), subject: "CN=profile-client", clientIp: "127.0.0.1",
      };
    };
    const batch = async () => {
      if (!(await Promise.all(Array.from({ length: 13 }, () => record(one())))).every(Boolean)) throw new Error("the write found the configuration stale");
    };
    for (let i = 0; i < 200; i++) await batch();
    const batches = Math.max(100, Math.floor(LOGINS / 2));
    const c0 = process.cpuUsage();
    const f0 = faults();
    for (let i = 0; i < batches; i++) await batch();
    const c = process.cpuUsage(c0);
    console.log(`  ${"login write, batches of 13 (CPU)".padEnd(44)} ${((c.user + c.system) / batches / 13).toFixed(1).padStart(8)} µs, ${perOp(f0, batches * 13)} per login`);
  }
} finally {
  await service.database.close();
  rmSync(dataDir, { recursive: true, force: true });
}
