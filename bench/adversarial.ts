/**
 * Issue 13's attacks against a real started service (Bun, PGlite), reported as ratios from one run:
 *   CPU     server CPU per worst-case chain-mode login vs per ordinary refused login (target ≤ 2×);
 *   globs   the worst allow-list patterns up to the field's length limit against names up to 1 KiB, in
 *           process through the real matchers, each family in a child killed if it hangs (target < 1 ms);
 *   memory  RSS growth over 5,000 logins with distinct 15 KiB certificates for unknown identities (target < 64 MiB).
 * Writes bench/results/adversarial-<date>.json and prints a table.  Usage: bun bench/adversarial.ts [--logins N]
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as x509 from "../src/pki/x509.ts";
import * as glob from "../src/pki/lib/glob.ts";
import { bundle, generateKeys, makeCa, makeCompleteGraph, makeLeaf, type Issued } from "../tests/fixtures/pki.ts";
import { call } from "../tests/helpers/https.ts";
import { makeBenchPki, type BenchPki } from "./pki.ts";
import { BUN, cpuMs, loadAverage, ROOT, rssMiB, runtimeCommand, serviceEnv, startServer, stopAll, type Server } from "./processes.ts";
import { seed } from "./seed.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";
const { values: args } = parseArgs({
  options: {
    logins: { type: "string", default: "120" },
    "memory-logins": { type: "string", default: "5000" },
    "memory-bytes": { type: "string", default: String(15 * 1024) },
    "glob-family": { type: "string" },
  },
});
const log = (line: string) => console.error(line);

// ---------- CPU: chain-mode logins ----------

interface Tls {
  cert: string;
  key: string;
}
const tlsOf = (leaf: Issued, ...chain: Issued[]): Tls => ({ cert: bundle(leaf, ...chain), key: leaf.keyPem });

interface CpuCase {
  name: string;
  logins: number;
  serverCpuMsPerLogin: number;
  statuses: Record<string, number>;
}

/** Server CPU (utime + stime) per login over `clients`, one login at a time, each on a new TLS connection. */
async function cpuPerLogin(server: Server, identityId: string, name: string, clients: Tls[]): Promise<CpuCase> {
  const url = `https://127.0.0.1:${server.port}`;
  const statuses: Record<string, number> = {};
  const before = cpuMs(server.pid);
  for (const tls of clients) {
    const res = await call(url, LOGIN, { body: { identityId }, ...tls });
    const key = `${res.status} ${res.headers["x-certauth-reason"] ?? ""}`.trim();
    statuses[key] = (statuses[key] ?? 0) + 1;
  }
  const used = cpuMs(server.pid) - before;
  const result = { name, logins: clients.length, serverCpuMsPerLogin: used / clients.length, statuses };
  log(`  ${name}: ${result.serverCpuMsPerLogin.toFixed(2)} ms server CPU per login ${JSON.stringify(statuses)}`);
  return result;
}

/** A leaf signed by a key of its own, naming the anchor as issuer, beside 32 self-signed CAs on the anchor's name, each with its own key: the most signature checks a bundle can ask for. */
async function signatureHeavy(anchorSubject: string): Promise<Tls> {
  const cas: Issued[] = [];
  for (let i = 0; i < 32; i++) cas.push(await makeCa({ subject: anchorSubject, key: await generateKeys("p256") }));
  const leaf = await makeLeaf({ issuer: cas[0]!, cn: "heavy-leaf" });
  return tlsOf(leaf, ...cas);
}

async function cpuSection(
  server: Server,
  bare: Server,
  chainId: string,
  n: number,
): Promise<{ cases: CpuCase[]; bare: CpuCase[]; ratios: Record<string, number> }> {
  const anchorSubject = "CN=Bench Identity Root";
  log(`CPU: ${n} logins per case against the chain-mode identity`);
  const wrongCa = await makeCa({ subject: anchorSubject });
  const ordinary: Tls[] = [];
  for (let i = 0; i < n; i++) ordinary.push(tlsOf(await makeLeaf({ issuer: wrongCa, cn: `ordinary-${i}` })));
  const graphs: Tls[] = [];
  for (let i = 0; i < n; i++) {
    const g = await makeCompleteGraph({ intermediates: 10, subject: anchorSubject });
    graphs.push(tlsOf(g.leaf, ...g.intermediates));
  }
  const heavy: Tls[] = [];
  for (let i = 0; i < Math.ceil(n / 3); i++) heavy.push(await signatureHeavy(anchorSubject));

  await cpuPerLogin(server, chainId, "warm-up", ordinary.slice(0, 20));
  const cases = [
    await cpuPerLogin(server, chainId, "ordinary refused (leaf from a wrong CA, fresh leaves)", ordinary),
    await cpuPerLogin(server, chainId, "complete graph, 10 intermediates (fresh bundles)", graphs),
    await cpuPerLogin(server, chainId, "complete graph, 10 intermediates (one bundle repeated)", Array(n).fill(graphs[0]!)),
    await cpuPerLogin(server, chainId, "32 keys on the anchor's name (fresh bundles)", heavy),
  ];
  // The same bundles against a bare mTLS server: what the TLS layer alone pays for receiving them.
  await cpuPerLogin(bare, chainId, "bare warm-up", ordinary.slice(0, 20));
  const bareCases = [
    await cpuPerLogin(bare, chainId, "bare mTLS server: ordinary leaf", ordinary),
    await cpuPerLogin(bare, chainId, "bare mTLS server: complete graph", graphs),
    await cpuPerLogin(bare, chainId, "bare mTLS server: 32 keys on the anchor's name", heavy),
  ];
  const base = cases[0]!.serverCpuMsPerLogin;
  return {
    cases,
    bare: bareCases,
    ratios: {
      completeGraphFresh: cases[1]!.serverCpuMsPerLogin / base,
      completeGraphRepeated: cases[2]!.serverCpuMsPerLogin / base,
      signatureHeavyFresh: cases[3]!.serverCpuMsPerLogin / base,
    },
  };
}

// ---------- globs ----------

interface GlobPoint {
  family: string;
  patternLength: number;
  nameLength: number;
  msPerMatch: number;
}

type Matcher = (pattern: string, ignoreCase?: boolean) => glob.Matcher;

const NAME_LENGTHS = [8, 12, 16, 20, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024];
/** A match slower than this ends its family's escalation: the next length would take minutes on a backtracking matcher. */
const GIVE_UP_MS = 200;

const FAMILIES: { family: string; matcher: Matcher; pattern: string; ignoreCase?: boolean; name: (n: number) => string }[] = [
    { family: "CN label glob *a*a*a*a*a*a*a*a*b (issue 13)", matcher: glob.labelGlob, pattern: "*a".repeat(8) + "b", name: (n) => "a".repeat(n) },
    { family: "CN label glob (*a)×2047 b (4,095 chars)", matcher: glob.labelGlob, pattern: "*a".repeat(2047) + "b", name: (n) => "a".repeat(n) },
    { family: "CN label glob *×4096 vs a…a.", matcher: glob.labelGlob, pattern: "*".repeat(4096), name: (n) => "a".repeat(n - 1) + "." },
    { family: "SAN/O/OU any glob (*a)×511 b (1,023 chars), i", matcher: glob.anyRunGlob, pattern: "*a".repeat(511) + "b", ignoreCase: true, name: (n) => "a".repeat(n) },
    { family: "SAN/O/OU any glob *×1023 b", matcher: glob.anyRunGlob, pattern: "*".repeat(1023) + "b", name: (n) => "a".repeat(n) },
];

/** In a child: one family against growing names, one JSON line per point. */
function globChild(index: number): void {
  const f = FAMILIES[index]!;
  const match = f.matcher(f.pattern, f.ignoreCase);
  for (const n of NAME_LENGTHS) {
    const name = f.name(n);
    let reps = 0;
    const started = performance.now();
    do {
      match(name);
      reps++;
    } while (performance.now() - started < 20 && reps < 1000);
    const msPerMatch = (performance.now() - started) / reps;
    console.log(JSON.stringify({ family: f.family, patternLength: f.pattern.length, nameLength: n, msPerMatch } satisfies GlobPoint));
    if (msPerMatch > GIVE_UP_MS) break;
  }
}

/** Each family in a child of its own, killed after `timeoutMs`: a backtracking match cannot be interrupted. */
async function globSection(timeoutMs = 10_000): Promise<{ points: GlobPoint[]; worst: Record<string, { nameLength: number; msPerMatch: number; reached1KiB: boolean; killed: boolean }> }> {
  log("globs: worst patterns against names up to 1 KiB");
  const points: GlobPoint[] = [];
  const worst: Record<string, { nameLength: number; msPerMatch: number; reached1KiB: boolean; killed: boolean }> = {};
  for (let index = 0; index < FAMILIES.length; index++) {
    const family = FAMILIES[index]!.family;
    const mine: GlobPoint[] = [];
    const killed = await new Promise<boolean>((done) => {
      const child = spawn(BUN, [join(ROOT, "bench/adversarial.ts"), "--glob-family", String(index)], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      let buffered = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines) if (line.trim()) mine.push(JSON.parse(line));
      });
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        done(signal === "SIGKILL" || code !== 0);
      });
    });
    points.push(...mine);
    const slowest = mine.reduce<GlobPoint | undefined>((w, p) => (!w || p.msPerMatch > w.msPerMatch ? p : w), undefined);
    const next = NAME_LENGTHS[mine.length] ?? 1024;
    // A killed child spent at least the rest of its time limit on the next length.
    const w = killed
      ? { nameLength: next, msPerMatch: Math.max(slowest?.msPerMatch ?? 0, timeoutMs - mine.length * 20), reached1KiB: false, killed }
      : { nameLength: slowest?.nameLength ?? 0, msPerMatch: slowest?.msPerMatch ?? 0, reached1KiB: mine.some((p) => p.nameLength === 1024), killed };
    worst[family] = w;
    log(`  ${family}: worst ${w.msPerMatch.toFixed(4)} ms per match (name ${w.nameLength})${killed ? ", killed after the time limit" : w.reached1KiB ? "" : ", gave up before 1 KiB"}`);
  }
  return { points, worst };
}

// ---------- memory ----------

const PAD_OID = "1.3.6.1.4.1.55555.1";

/** Distinct self-signed client certificates of about `bytes` bytes (a non-critical extension of random padding), one key for all. */
async function bigCertificates(count: number, bytes: number): Promise<Tls[]> {
  const key = await generateKeys("p256");
  const keyPem = (await makeCa({ key })).keyPem;
  const out: Tls[] = [];
  for (let i = 0; i < count; i++) {
    const padding = crypto.getRandomValues(new Uint8Array(bytes - 600));
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: `CN=memory-${i}`,
      keys: key.keys,
      signingAlgorithm: key.signingAlgorithm,
      notBefore: new Date(Date.now() - 86_400_000),
      notAfter: new Date(Date.now() + 86_400_000),
      extensions: [new x509.Extension(PAD_OID, false, padding)],
    });
    out.push({ cert: cert.toString("pem"), key: keyPem });
  }
  return out;
}

async function memorySection(server: Server, count: number, bytes: number): Promise<Record<string, number>> {
  log(`memory: ${count} logins with distinct ${(bytes / 1024).toFixed(0)} KiB certificates for unknown identities`);
  const clients = await bigCertificates(count, bytes);
  const url = `https://127.0.0.1:${server.port}`;
  const statuses: Record<string, number> = {};
  const rssBefore = rssMiB(server.pid);
  let next = 0;
  const worker = async () => {
    while (next < clients.length) {
      const tls = clients[next++]!;
      const res = await call(url, LOGIN, { body: { identityId: crypto.randomUUID() }, ...tls });
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const rssAfter = rssMiB(server.pid);
  await new Promise((r) => setTimeout(r, 2_000));
  const rssSettled = rssMiB(server.pid);
  const result = { logins: count, rssBeforeMiB: rssBefore, rssAfterMiB: rssAfter, rssSettledMiB: rssSettled, growthMiB: rssAfter - rssBefore, settledGrowthMiB: rssSettled - rssBefore };
  log(`  RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MiB, ${rssSettled.toFixed(0)} MiB 2 s later ${JSON.stringify(statuses)}`);
  return { ...result, ...Object.fromEntries(Object.entries(statuses).map(([k, v]) => [`status${k}`, v])) };
}

// ---------- main ----------

async function startService(pki: BenchPki, work: string): Promise<{ server: Server; chainId: string }> {
  const dataDir = join(work, "data");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const seeded = await seed({ url: undefined, dataDir, identityCount: 2, caPem: pki.caPem, crlPem: null });
  const [bin, ...rest] = runtimeCommand("bun", "src/server/bun.ts");
  // BENCH_SERVICE_FLAGS: runtime flags for the service only, as in bench/run.ts (e.g. `--cpu-prof-md`).
  const flags = process.env.BENCH_SERVICE_FLAGS?.split(" ").filter(Boolean) ?? [];
  const server = await startServer([bin!, ...flags, ...rest], { DATA_DIR: dataDir, ...serviceEnv(pki, "warn") }, /certauth: listening on/);
  return { server, chainId: seeded.chainId };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ")).join("\n");
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), "certauth-adversarial-"));
  const startedAt = new Date();
  const loadBefore = loadAverage();
  log(`certauth adversarial bench — ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, load average ${loadBefore.join(" ")}`);
  try {
    const globs = await globSection();
    const pki = await makeBenchPki(work, 0);
    const { server, chainId } = await startService(pki, work);
    const bare = await startServer(
      runtimeCommand("bun", "bench/ceiling-server.ts"),
      { TLS_CERT_FILE: pki.serverCertFile, TLS_KEY_FILE: pki.serverKeyFile, PEER_READ: "connection" },
      /ceiling: listening/,
    );
    const cpu = await cpuSection(server, bare, chainId, Number(args.logins));
    await bare.stop();
    await server.stop();
    // A fresh service, so that the CPU cases' heap does not hide or inflate the growth.
    const fresh = await startService(pki, mkdtempSync(join(work, "memory-")));
    const memory = await memorySection(fresh.server, Number(args["memory-logins"]), Number(args["memory-bytes"]));
    await fresh.server.stop();

    const worstGlob = Math.max(...Object.values(globs.worst).map((w) => w.msPerMatch));
    const globsAll1KiB = Object.values(globs.worst).every((w) => w.reached1KiB);
    const report = {
      startedAt: startedAt.toISOString(),
      durationS: (Date.now() - startedAt.getTime()) / 1000,
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "", loadBefore, loadAfter: loadAverage() },
      targets: { cpuRatioMax: 2, globMsMax: 1, memoryGrowthMiBMax: 64 },
      cpu,
      globs,
      memory,
      verdicts: {
        cpu: Math.max(...Object.values(cpu.ratios)) <= 2,
        globs: globsAll1KiB && worstGlob < 1,
        memory: Math.max(memory.growthMiB!, memory.settledGrowthMiB!) < 64,
      },
    };
    mkdirSync(join(ROOT, "bench/results"), { recursive: true });
    const file = join(ROOT, `bench/results/adversarial-${startedAt.toISOString().slice(0, 10)}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);

    const rows = [["attack", "measured", "target", "ok"]];
    for (const c of [...cpu.cases, ...cpu.bare]) rows.push([`CPU: ${c.name}`, `${c.serverCpuMsPerLogin.toFixed(2)} ms/login`, "", ""]);
    for (const [k, v] of Object.entries(cpu.ratios)) rows.push([`CPU ratio ${k} / ordinary`, `${v.toFixed(2)}×`, "≤ 2×", v <= 2 ? "yes" : "NO"]);
    for (const [family, w] of Object.entries(globs.worst)) {
      rows.push([`glob: ${family}`, `${w.msPerMatch.toFixed(4)} ms (name ${w.nameLength})${w.reached1KiB ? "" : ", gave up"}`, "< 1 ms to 1 KiB", w.reached1KiB && w.msPerMatch < 1 ? "yes" : "NO"]);
    }
    rows.push([
      `memory: ${memory.logins} × ${(Number(args["memory-bytes"]) / 1024).toFixed(0)} KiB certificates`,
      `+${memory.growthMiB!.toFixed(1)} MiB (+${memory.settledGrowthMiB!.toFixed(1)} after 2 s; ${memory.rssBeforeMiB!.toFixed(0)} → ${memory.rssAfterMiB!.toFixed(0)} MiB)`,
      "< 64 MiB",
      report.verdicts.memory ? "yes" : "NO",
    ]);
    console.log(table(rows));
    log(`\nwrote ${file} in ${report.durationS.toFixed(0)} s`);
  } finally {
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  }
}

if (args["glob-family"] !== undefined) globChild(Number(args["glob-family"]));
else await main();
