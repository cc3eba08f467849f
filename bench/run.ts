/**
 * `npm run bench` — login throughput and latency against a bare mTLS server (the ceiling), same run,
 * same runtime, same listener pattern, same certificates. Writes bench/results/<date>.{json,md,svg}.
 *
 *   npm run bench                 the default cases (a few minutes)
 *   npm run bench -- --full       every combination of runtime × database × identities × CRL × mode
 *   npm run bench -- --duration 8 --only bun  seconds per measurement; run cases whose name contains "bun"
 *   npm run bench -- --rounds 5   ceiling and login take turns this many times per case and mode (default 3)
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createPostgresDatabase, postgresReachable } from "../tests/helpers/databases.ts";
import { makeBenchPki, type BenchPki } from "./pki.ts";
import { seed, type Seeded } from "./seed.ts";
import { startRevocationServers, type RevocationServers } from "./revocation.ts";
import { cpuMs, loadAverage, minorFaults, pageFaultMicros, ROOT, rssMiB, runLoad, runtimeCommand, serviceEnv, startServer, stopAll, type Runtime, type Server } from "./processes.ts";
import { renderMarkdown, renderSvg, type Measurement, type Report, type RssCheck } from "./report.ts";

const { values: args } = parseArgs({
  options: {
    full: { type: "boolean", default: false },
    duration: { type: "string", default: "3" },
    warmup: { type: "string", default: "1" },
    rounds: { type: "string", default: "3" },
    only: { type: "string" },
    "rss-logins": { type: "string", default: "100000" },
    "no-rss": { type: "boolean", default: false },
    out: { type: "string", default: join(ROOT, "bench/results") },
  },
});

const DURATION_MS = Number(args.duration) * 1000;
const ROUNDS = Math.max(1, Number(args.rounds));
const WARMUP_MS = Number(args.warmup) * 1000;
const CONNECTIONS = 16;
const LOGIN_PATH = "/api/v1/auth/tls-cert-auth/login";
const PG_URL = process.env.BENCH_PG_URL ?? process.env.PG_TEST_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REVOKED = 100_000;
const MANY = 100_000;

type Db = "pglite" | "postgres";
type Mode = "keep-alive" | "handshake";
/** Live revocation on the login measured: OCSP with its answer cached, or a CRL fetched from a URL. */
type Revocation = "ocsp-cached" | "crl-url";
interface Case {
  runtime: Runtime;
  db: Db;
  identities: number;
  crl: boolean;
  chain: boolean;
  revocation?: Revocation;
  modes: Mode[];
}

function name(c: Omit<Case, "modes">): string {
  return `${c.runtime}/${c.db}/${c.identities === 1 ? "1-id" : "100k-ids"}/${c.crl ? "crl-100k" : (c.revocation ?? "no-crl")}/${c.chain ? "chain" : "direct"}`;
}

function defaultCases(): Case[] {
  const both: Mode[] = ["keep-alive", "handshake"];
  return [
    { runtime: "bun", db: "pglite", identities: 1, crl: false, chain: false, modes: both },
    { runtime: "bun", db: "pglite", identities: 1, crl: false, chain: false, revocation: "ocsp-cached", modes: ["keep-alive"] },
    { runtime: "bun", db: "pglite", identities: 1, crl: false, chain: false, revocation: "crl-url", modes: ["keep-alive"] },
    { runtime: "bun", db: "pglite", identities: MANY, crl: true, chain: false, modes: ["keep-alive"] },
    { runtime: "bun", db: "pglite", identities: 1, crl: false, chain: true, modes: ["keep-alive"] },
    { runtime: "bun", db: "postgres", identities: 1, crl: false, chain: false, modes: both },
    { runtime: "bun", db: "postgres", identities: MANY, crl: true, chain: false, modes: ["keep-alive"] },
    { runtime: "node", db: "pglite", identities: 1, crl: false, chain: false, modes: both },
  ];
}

function fullCases(): Case[] {
  const out: Case[] = [];
  for (const runtime of ["bun", "node"] as const)
    for (const db of ["pglite", "postgres"] as const)
      for (const identities of [1, MANY])
        for (const crl of [false, true])
          for (const chain of [false, true]) out.push({ runtime, db, identities, crl, chain, modes: ["keep-alive", "handshake"] });
  for (const runtime of ["bun", "node"] as const)
    for (const db of ["pglite", "postgres"] as const)
      for (const revocation of ["ocsp-cached", "crl-url"] as const) out.push({ runtime, db, identities: 1, crl: false, chain: false, revocation, modes: ["keep-alive"] });
  return out;
}

/** A database for one (db, identities, crl) combination, seeded once and shared by runtimes and modes. */
interface Prepared {
  env: Record<string, string>;
  seeded: Seeded;
  drop(): Promise<void>;
}

async function prepareDatabase(db: Db, identities: number, crl: boolean, pki: BenchPki, work: string, servers: RevocationServers): Promise<Prepared> {
  const started = performance.now();
  let prepared: Prepared;
  const revocation = { ocspUrl: servers.ocspUrl, crlUrl: servers.crlUrl };
  if (db === "pglite") {
    const dataDir = mkdtempSync(join(work, "pglite-"));
    const seeded = await seed({ url: undefined, dataDir, identityCount: identities, caPem: pki.caPem, crlPem: crl ? pki.crlPem : null, ...revocation });
    prepared = { env: { DATA_DIR: dataDir }, seeded, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  } else {
    const database = await createPostgresDatabase(PG_URL, "certauth_bench");
    const dataDir = mkdtempSync(join(work, "pg-"));
    const seeded = await seed({ url: database.url, dataDir, identityCount: identities, caPem: pki.caPem, crlPem: crl ? pki.crlPem : null, ...revocation });
    prepared = { env: { DATA_DIR: dataDir, DATABASE_URL: database.url }, seeded, drop: database.drop };
  }
  log(`  seeded ${db} with ${identities} identities${crl ? " and a 100k-serial CRL" : ""} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return prepared;
}

/** BENCH_SERVICE_FLAGS: runtime flags for the service only, e.g. `--cpu-prof-md --cpu-prof-dir=/tmp/prof`. */
function startService(runtime: Runtime, prepared: Prepared, pki: BenchPki): Promise<Server> {
  const [bin, ...rest] = runtimeCommand(runtime, `src/server/${runtime}.ts`);
  const flags = process.env.BENCH_SERVICE_FLAGS?.split(" ").filter(Boolean) ?? [];
  return startServer(
    [bin!, ...flags, ...rest],
    { ...prepared.env, ...serviceEnv(pki, process.env.BENCH_LOG_LEVEL ?? "info") },
    /certauth: listening on/,
  );
}

function startCeiling(runtime: Runtime, peerRead: "request" | "connection", pki: BenchPki): Promise<Server> {
  return startServer(
    runtimeCommand(runtime, "bench/ceiling-server.ts"),
    { TLS_CERT_FILE: pki.serverCertFile, TLS_KEY_FILE: pki.serverKeyFile, PEER_READ: peerRead },
    /ceiling: listening/,
  );
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Run {
  result: Awaited<ReturnType<typeof runLoad>>;
  /** The server's CPU, scaled to the load's measured window. */
  serverCpuMs: number;
  wallMs: number;
  rssMiB: number;
  /** The server's minor page faults, scaled like its CPU. */
  serverFaults: number;
}

/** One load against one server, with the server's CPU over the same window. */
async function run(server: Server, mode: Mode, bodies: string[], client: { certFile: string; keyFile: string }): Promise<Run> {
  const workers = Number(process.env.BENCH_WORKERS ?? (mode === "handshake" ? 2 : 1));
  const cpuBefore = cpuMs(server.pid);
  const faultsBefore = minorFaults(server.pid);
  const wallBefore = performance.now();
  const result = await runLoad(
    {
      host: "127.0.0.1",
      port: server.port,
      path: LOGIN_PATH,
      bodies,
      certFile: client.certFile,
      keyFile: client.keyFile,
      mode,
      connections: CONNECTIONS,
      warmupMs: WARMUP_MS,
      durationMs: DURATION_MS,
      maxRequests: Number.MAX_SAFE_INTEGER,
    },
    workers,
  );
  // The server's CPU is read over the whole load (warm-up included) and scaled to the measured window.
  const serverCpuMs = cpuMs(server.pid) - cpuBefore;
  const wallMs = performance.now() - wallBefore;
  const scale = result.elapsedMs / wallMs;
  return { result, serverCpuMs: serverCpuMs * scale, wallMs, rssMiB: rssMiB(server.pid), serverFaults: (minorFaults(server.pid) - faultsBefore) * scale };
}

const rpsOf = (r: Run) => (r.result.requests / r.result.elapsedMs) * 1000;

/** Several rounds of one server pooled into one measurement: requests, time, CPU and latencies added up. */
function pool(label: string, mode: Mode, runs: Run[]): Measurement {
  const requests = runs.reduce((n, r) => n + r.result.requests, 0);
  const elapsedMs = runs.reduce((n, r) => n + r.result.elapsedMs, 0);
  const serverCpuMs = runs.reduce((n, r) => n + r.serverCpuMs, 0);
  const clientCpuMs = runs.reduce((n, r) => n + r.result.cpuMs, 0);
  const statuses: Record<string, number> = {};
  for (const r of runs) for (const [status, n] of Object.entries(r.result.statuses)) statuses[status] = (statuses[status] ?? 0) + n;
  const list = Array.from(Float64Array.from(runs.flatMap((r) => r.result.latenciesUs)).sort());
  const m: Measurement = {
    label,
    mode,
    requests,
    rps: (requests / elapsedMs) * 1000,
    statuses,
    socketErrors: runs.reduce((n, r) => n + r.result.socketErrors, 0),
    p50Ms: percentile(list, 50) / 1000,
    p90Ms: percentile(list, 90) / 1000,
    p99Ms: percentile(list, 99) / 1000,
    serverCpuUsPerReq: requests ? (serverCpuMs / requests) * 1000 : 0,
    serverCpuCores: serverCpuMs / elapsedMs,
    serverFaultsPerReq: requests ? runs.reduce((n, r) => n + r.serverFaults, 0) / requests : 0,
    clientCpuUsPerReq: requests ? (clientCpuMs / requests) * 1000 : 0,
    clientWorkers: runs[0]!.result.workers,
    rssMiB: runs.at(-1)!.rssMiB,
  };
  log(
    `    ${label.padEnd(34)} ${mode.padEnd(10)} ${m.rps.toFixed(0).padStart(6)} req/s  p50 ${m.p50Ms.toFixed(2)} p99 ${m.p99Ms.toFixed(2)} ms  ` +
      `server ${m.serverCpuUsPerReq.toFixed(0)} µs/req  client ${m.clientCpuUsPerReq.toFixed(0)} µs/req  ${JSON.stringify(m.statuses)}${m.socketErrors ? ` socket errors ${m.socketErrors}` : ""}` +
      (runs.length > 1 ? `  rounds ${runs.map((r) => rpsOf(r).toFixed(0)).join(" ")}` : ""),
  );
  return m;
}

/** RSS of a fresh service after 50,000 and 100,000 keep-alive logins. */
async function rssCheck(runtime: Runtime, db: Db, prepared: Prepared, pki: BenchPki, total: number): Promise<RssCheck> {
  const server = await startService(runtime, prepared, pki);
  try {
    const body = [JSON.stringify({ identityId: prepared.seeded.directId })];
    const samples: RssCheck["samples"] = [{ logins: 0, rssMiB: rssMiB(server.pid) }];
    let logins = 0;
    let errors = 0;
    for (const step of [total / 2, total / 2]) {
      const r = await runLoad(
        { host: "127.0.0.1", port: server.port, path: LOGIN_PATH, bodies: body, certFile: pki.direct.certFile, keyFile: pki.direct.keyFile, mode: "keep-alive", connections: CONNECTIONS, warmupMs: 0, durationMs: 600_000, maxRequests: step },
        1,
      );
      logins += r.requests;
      errors += r.requests - (r.statuses["200"] ?? 0);
      const atEnd = rssMiB(server.pid);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      samples.push({ logins, rssMiB: atEnd, restMiB: rssMiB(server.pid) });
      log(`    rss after ${logins} logins: ${atEnd.toFixed(1)} MiB as the load ends, ${samples.at(-1)!.restMiB!.toFixed(1)} MiB 2 s later`);
    }
    const growth = (pick: (s: RssCheck["samples"][number]) => number) => ((pick(samples[2]!) - pick(samples[1]!)) / pick(samples[1]!)) * 100;
    return { runtime, db, samples, errors, growthPct: growth((s) => s.rssMiB), restGrowthPct: growth((s) => s.restMiB!) };
  } finally {
    await server.stop();
  }
}

function log(line: string) {
  console.error(line);
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), "certauth-bench-"));
  let stopServers = async () => {};
  const startedAt = new Date();
  const load = { before: loadAverage(), after: [] as number[] };
  const faultMicros = pageFaultMicros();
  log(`certauth bench — ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, load average ${load.before.join(" ")}, a page fault ${faultMicros.toFixed(2)} µs`);
  try {
    let cases = args.full ? fullCases() : defaultCases();
    if (args.only) cases = cases.filter((c) => name(c).includes(args.only!));
    if (!(await postgresReachable(PG_URL))) {
      log(`*** PostgreSQL not reachable at ${PG_URL}: skipping its cases ***`);
      cases = cases.filter((c) => c.db !== "postgres");
    }
    const pki = await makeBenchPki(work, REVOKED);
    const servers = await startRevocationServers(pki);
    stopServers = servers.stop;
    const measurements: Measurement[] = [];
    const rss: RssCheck[] = [];

    const groups = new Map<string, Case[]>();
    for (const c of cases) {
      const key = `${c.db}/${c.identities}/${c.crl}`;
      groups.set(key, [...(groups.get(key) ?? []), c]);
    }
    const ceilings = new Map<Runtime, { request: Server; connection: Server }>();
    const ceilingFor = async (runtime: Runtime) => {
      let pair = ceilings.get(runtime);
      if (!pair) {
        pair = { request: await startCeiling(runtime, "request", pki), connection: await startCeiling(runtime, "connection", pki) };
        ceilings.set(runtime, pair);
      }
      return pair;
    };

    for (const [key, group] of groups) {
      const first = group[0]!;
      log(`\n${key}`);
      const prepared = await prepareDatabase(first.db, first.identities, first.crl, pki, work, servers);
      try {
        for (const runtime of [...new Set(group.map((c) => c.runtime))]) {
          const ceiling = await ceilingFor(runtime);
          const server = await startService(runtime, prepared, pki);
          try {
            for (const c of group.filter((g) => g.runtime === runtime)) {
              const caseName = name(c);
              const client = c.chain ? pki.chain : pki.direct;
              const identityId =
                c.revocation === "ocsp-cached" ? prepared.seeded.ocspId : c.revocation === "crl-url" ? prepared.seeded.crlUrlId : c.chain ? prepared.seeded.chainId : prepared.seeded.directId;
              const bodies = [JSON.stringify({ identityId })];
              // One login first: compiling a configuration (a 100k-serial CRL takes seconds) happens once per version,
              // and the OCSP answer is cached from then on.
              const primeStarted = performance.now();
              const prime = await runLoad(
                { host: "127.0.0.1", port: server.port, path: LOGIN_PATH, bodies, certFile: client.certFile, keyFile: client.keyFile, mode: "keep-alive", connections: 1, warmupMs: 0, durationMs: 180_000, maxRequests: 1 },
                1,
              );
              log(`    ${caseName}: first login ${JSON.stringify(prime.statuses)} after ${((performance.now() - primeStarted) / 1000).toFixed(1)} s`);
              for (const mode of c.modes) {
                // Ceiling and login take turns, round after round, so that whatever else the machine is doing
                // falls on both alike; each is then pooled over its rounds.
                const rounds = { request: [] as Run[], connection: [] as Run[], login: [] as Run[] };
                for (let round = 0; round < ROUNDS; round++) {
                  rounds.request.push(await run(ceiling.request, mode, bodies, client));
                  if (mode === "keep-alive") rounds.connection.push(await run(ceiling.connection, mode, bodies, client));
                  rounds.login.push(await run(server, mode, bodies, client));
                }
                const perRequest = pool(`${runtime} ceiling, chain read per request`, mode, rounds.request);
                const perConnection = mode === "keep-alive" ? pool(`${runtime} ceiling, chain read per connection`, mode, rounds.connection) : null;
                const login = pool(caseName, mode, rounds.login);
                const roundRatios = rounds.login.map((l, i) => rpsOf(l) / rpsOf(rounds.request[i]!));
                measurements.push({ ...login, case: caseName, runtime, db: c.db, identities: c.identities, crl: c.crl, chain: c.chain, revocation: c.revocation, ceilingPerRequest: perRequest, ceilingPerConnection: perConnection, roundRatios });
              }
            }
          } finally {
            await server.stop();
          }
          if (!args["no-rss"] && first.identities === 1 && !first.crl && (args.full || (runtime === "bun" && first.db === "pglite"))) {
            rss.push(await rssCheck(runtime, first.db, prepared, pki, Number(args["rss-logins"])));
          }
        }
      } finally {
        await prepared.drop();
      }
    }
    load.after = loadAverage();

    const report: Report = {
      date: startedAt.toISOString(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? "",
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        bun: (await Bun.$`${process.execPath} --version`.text()).trim(),
        node: (await Bun.$`node --version`.text()).trim(),
        loadAverageBefore: load.before,
        loadAverageAfter: load.after,
        pageFaultMicros: faultMicros,
      },
      settings: { connections: CONNECTIONS, durationSeconds: DURATION_MS / 1000, warmupSeconds: WARMUP_MS / 1000, rounds: ROUNDS, full: Boolean(args.full) },
      measurements,
      rss,
    };
    mkdirSync(args.out!, { recursive: true });
    // A second run on the same day gets its own files (<date>-2, …) rather than replacing the first.
    const day = startedAt.toISOString().slice(0, 10);
    let stem = join(args.out!, day);
    for (let n = 2; existsSync(`${stem}.json`); n++) stem = join(args.out!, `${day}-${n}`);
    writeFileSync(`${stem}.json`, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(`${stem}.md`, renderMarkdown(report));
    writeFileSync(`${stem}.svg`, renderSvg(report));
    log(`\n${renderMarkdown(report)}\nwrote ${stem}.{json,md,svg}`);
  } finally {
    await stopServers();
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
