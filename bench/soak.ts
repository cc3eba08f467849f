/**
 * `npm run test:soak` — mixed load at a steady rate against the service started as its own process (Bun, the
 * embedded PGlite on disk, as `npm start` runs it), for SOAK_SECONDS (default 600). Reports errors (must be 0),
 * RSS at the end of warm-up and at the end (growth must stay under 10%), and open file descriptors
 * (/proc/<pid>/fd, must stay flat). Exits non-zero when any of the three fails.
 *
 *   SOAK_SECONDS=120 SOAK_RATE=60 npm run test:soak
 *   SOAK_DATABASE_URL=postgres://… npm run test:soak      against PostgreSQL instead
 *
 * The mix, per request: login over a kept-alive mTLS connection 30%, login on a fresh handshake 5%, a login
 * that must be refused (certificate from another CA, 401) 5%, token use (/token/self) 30%, renew 10%,
 * introspect 8%, revoke 5%, status 4%, JWKS 3%. Every answer is checked against the one that operation must give.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCa, makeLeaf } from "../tests/fixtures/pki.ts";
import { ADMIN_TOKEN } from "../tests/helpers/service.ts";
import { startBunService, stopBunService } from "../tests/reliability/process.ts";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = Number(process.env.SOAK_RATE ?? 60);
const MAX_IN_FLIGHT = Number(process.env.SOAK_CONCURRENCY ?? 32);
const WARMUP_SECONDS = Math.min(60, Math.max(10, Math.round(SECONDS * 0.15)));
const SAMPLE_MS = 5000;
const REQUEST_TIMEOUT_MS = 15_000;
const LOGIN = "/api/v1/auth/tls-cert-auth/login";

const root = await makeCa({ subject: "CN=Soak Root" });
const leaf = await makeLeaf({ issuer: root, cn: "svc-soak" });
const stranger = await makeLeaf({ issuer: await makeCa({ subject: "CN=Soak Stranger" }), cn: "svc-soak" });

const dataDir = mkdtempSync(join(tmpdir(), "certauth-soak-"));
const svc = await startBunService({
  DATA_DIR: dataDir,
  DATABASE_URL: process.env.SOAK_DATABASE_URL ?? "",
  LOG_LEVEL: "warn",
  LOGIN_RATE_LIMIT: "0",
});
const url = new URL(svc.url);

const keepAliveCert = new Agent({ keepAlive: true, maxSockets: 8, cert: leaf.pem, key: leaf.keyPem, rejectUnauthorized: false });
const keepAlivePlain = new Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false });

interface Answer {
  status: number;
  body: any;
}

function send(method: string, path: string, options: { body?: unknown; bearer?: string; agent?: Agent | false; cert?: typeof leaf } = {}): Promise<Answer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        agent: options.agent ?? keepAlivePlain,
        rejectUnauthorized: false,
        ...(options.cert ? { cert: options.cert.pem, key: options.cert.keyPem } : {}),
        headers: {
          ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
          ...(options.bearer ? { authorization: `Bearer ${options.bearer}` } : {}),
        },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timed out after ${REQUEST_TIMEOUT_MS} ms`)));
    req.on("error", reject);
    if (payload) req.write(payload);
    req.end();
  });
}

const admin = (method: string, path: string, body?: unknown) => send(method, path, { body, bearer: ADMIN_TOKEN });

// ---------- world ----------
const org = (await admin("POST", "/api/v1/organizations", { name: "Soak", slug: "soak" })).body.organization.id;
const identityId = (await admin("POST", "/api/v1/identities", { name: "soak", organizationId: org })).body.identity.id;
const attached = await admin("POST", `/api/v1/auth/tls-cert-auth/identities/${identityId}`, {
  caCertificate: root.pem,
  accessTokenTTL: 3600,
  accessTokenMaxTTL: 86_400,
});
if (attached.status !== 200) throw new Error(`attach failed: ${JSON.stringify(attached.body)}`);

/** Tokens the load uses; one being revoked is taken out first, so no use races its revocation. */
const pool: { token: string; busy: number }[] = [];
const POOL_SIZE = 200;

type Op = { name: string; weight: number; run: () => Promise<string | null> };
const expect = (answer: Answer, status: number, what: string): string | null =>
  answer.status === status ? null : `${what}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`;

async function login(agent: Agent | false): Promise<string | null> {
  const res = await send("POST", LOGIN, { body: { identityId }, agent, cert: agent === false ? leaf : undefined });
  if (res.status === 200) {
    if (pool.length < POOL_SIZE) pool.push({ token: res.body.accessToken, busy: 0 });
    else pool[Math.floor(Math.random() * pool.length)]!.token = res.body.accessToken;
  }
  return expect(res, 200, "login");
}

async function withToken(fn: (entry: { token: string; busy: number }) => Promise<string | null>): Promise<string | null> {
  const entry = pool[Math.floor(Math.random() * pool.length)];
  if (!entry) return login(keepAliveCert);
  entry.busy++;
  try {
    return await fn(entry);
  } finally {
    entry.busy--;
  }
}

const ops: Op[] = [
  { name: "login (kept-alive mTLS)", weight: 30, run: () => login(keepAliveCert) },
  { name: "login (new handshake)", weight: 5, run: () => login(false) },
  { name: "refused login", weight: 5, run: async () => expect(await send("POST", LOGIN, { body: { identityId }, agent: false, cert: stranger }), 401, "refused login") },
  { name: "use", weight: 30, run: () => withToken(async ({ token }) => expect(await send("GET", "/api/v1/auth/token/self", { bearer: token }), 200, "use")) },
  {
    name: "renew",
    weight: 10,
    run: () =>
      withToken(async (entry) => {
        const res = await send("POST", "/api/v1/auth/token/renew", { body: { accessToken: entry.token } });
        if (res.status === 200) entry.token = res.body.accessToken;
        return expect(res, 200, "renew");
      }),
  },
  { name: "introspect", weight: 8, run: () => withToken(async ({ token }) => expect(await admin("POST", "/api/v1/auth/token/introspect", { token }), 200, "introspect")) },
  {
    name: "revoke",
    weight: 5,
    run: async () => {
      const index = pool.findIndex((e) => e.busy === 0);
      if (index < 0 || pool.length < 20) return login(keepAliveCert);
      const [entry] = pool.splice(index, 1);
      const revoked = await send("POST", "/api/v1/auth/token/revoke", { body: { accessToken: entry!.token } });
      const after = await send("GET", "/api/v1/auth/token/self", { bearer: entry!.token });
      return expect(revoked, 200, "revoke") ?? expect(after, 401, "use after revoke");
    },
  },
  { name: "status", weight: 4, run: async () => expect(await send("GET", "/api/status"), 200, "status") },
  { name: "jwks", weight: 3, run: async () => expect(await send("GET", "/.well-known/jwks.json"), 200, "jwks") },
];
const totalWeight = ops.reduce((n, o) => n + o.weight, 0);
function pick(): Op {
  let r = Math.random() * totalWeight;
  for (const op of ops) if ((r -= op.weight) < 0) return op;
  return ops[0]!;
}

// ---------- run ----------
const counts = new Map<string, number>();
const errors: string[] = [];
let sent = 0;
let skipped = 0;
let inFlight = 0;
const samples: { t: number; rssKiB: number; fds: number }[] = [];
const started = Date.now();
const end = started + SECONDS * 1000;

console.log(`soak: ${SECONDS} s at ${RATE} req/s (≤ ${MAX_IN_FLIGHT} in flight) against pid ${svc.pid}, ${process.env.SOAK_DATABASE_URL ? "PostgreSQL" : "PGlite on disk"}; warm-up ${WARMUP_SECONDS} s`);

const sampler = setInterval(() => {
  const t = Math.round((Date.now() - started) / 1000);
  const sample = { t, rssKiB: svc.rssKiB(), fds: svc.openFds() };
  samples.push(sample);
  console.log(`soak: t=${t}s sent=${sent} errors=${errors.length} skipped=${skipped} rss=${(sample.rssKiB / 1024).toFixed(1)} MiB fds=${sample.fds}`);
}, SAMPLE_MS);

const tick = 20;
let due = 0;
while (Date.now() < end) {
  due += (RATE * tick) / 1000;
  while (due >= 1) {
    due--;
    if (inFlight >= MAX_IN_FLIGHT) {
      skipped++;
      continue;
    }
    const op = pick();
    inFlight++;
    sent++;
    counts.set(op.name, (counts.get(op.name) ?? 0) + 1);
    op
      .run()
      .then((error) => error && errors.push(error), (err: Error) => errors.push(`${op.name}: ${err.message}`))
      .finally(() => inFlight--);
  }
  await Bun.sleep(tick);
}
while (inFlight > 0) await Bun.sleep(50);
clearInterval(sampler);
samples.push({ t: Math.round((Date.now() - started) / 1000), rssKiB: svc.rssKiB(), fds: svc.openFds() });
keepAliveCert.destroy();
keepAlivePlain.destroy();
await Bun.sleep(500);
const idleFds = svc.openFds();

const warm = samples.find((s) => s.t >= WARMUP_SECONDS) ?? samples[0]!;
const last = samples[samples.length - 1]!;
const afterWarm = samples.filter((s) => s.t >= warm.t);
const rssGrowth = (last.rssKiB - warm.rssKiB) / warm.rssKiB;
const fdValues = afterWarm.map((s) => s.fds);
const fdMin = Math.min(...fdValues);
const fdMax = Math.max(...fdValues);
const elapsed = (Date.now() - started) / 1000;

await stopBunService(svc);
rmSync(dataDir, { recursive: true, force: true });

const summary = {
  seconds: Math.round(elapsed),
  targetRate: RATE,
  achievedRate: Math.round(sent / elapsed),
  requests: sent,
  skippedForConcurrency: skipped,
  errors: errors.length,
  byOperation: Object.fromEntries(counts),
  rssMiB: { warmup: +(warm.rssKiB / 1024).toFixed(1), end: +(last.rssKiB / 1024).toFixed(1), max: +(Math.max(...afterWarm.map((s) => s.rssKiB)) / 1024).toFixed(1), growthPercent: +(rssGrowth * 100).toFixed(1) },
  openFds: { warmup: warm.fds, end: last.fds, minAfterWarmup: fdMin, maxAfterWarmup: fdMax, afterClientsClosed: idleFds },
};
console.log(`soak: summary ${JSON.stringify(summary, null, 2)}`);
for (const error of errors.slice(0, 20)) console.log(`soak: error ${error}`);

// Flat: after warm-up the count moves only with the connections in flight (≤ the clients' sockets).
const fdFlat = last.fds <= warm.fds + 8 && fdMax - fdMin <= MAX_IN_FLIGHT + 8;
const failures = [
  errors.length > 0 ? `${errors.length} errors` : null,
  rssGrowth >= 0.1 ? `RSS grew ${(rssGrowth * 100).toFixed(1)}% after warm-up` : null,
  fdFlat ? null : `open file descriptors not flat (${warm.fds} → ${last.fds}, range ${fdMin}–${fdMax})`,
].filter(Boolean);
if (failures.length) {
  console.log(`soak: FAILED — ${failures.join("; ")}`);
  process.exit(1);
}
console.log("soak: PASSED — 0 errors, RSS growth under 10%, file descriptors flat");
process.exit(0);
