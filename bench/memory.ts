/**
 * Memory (RSS) of the service on the embedded database (PGlite on disk), stage by stage — issue #7's target:
 * RSS ≤ 200 MiB after 100,000 logins and < 10 % growth between 50,000 and 100,000.
 *
 *   node_modules/.bin/bun bench/memory.ts                    all parts below, 100,000 logins
 *   node_modules/.bin/bun bench/memory.ts --logins 20000     fewer logins
 *   node_modules/.bin/bun bench/memory.ts --only stages      one part: stages | pglite | service
 *
 * stages   each in its own fresh Bun process, RSS from /proc/<pid>/status (VmRSS): bare Bun; Bun after importing
 *          PGlite; after PGlite.create on a seeded DATA_DIR with PGlite's own settings (what the service ran before
 *          src/db/client.ts set shared_buffers & co.); after openDatabase() (src/db/client.ts's settings + migrations);
 *          with the WASM memory's size and the RSS of its mapping (/proc/self/smaps).
 * pglite   one Bun process, openDatabase() on disk, then the rows a login writes (an identity_access_tokens row, in
 *          its own transaction, as the login does) inserted straight in SQL, in steps: what PGlite alone grows by,
 *          without TLS or HTTP. Prints RSS, the WASM memory size and the JS heap (process.memoryUsage) per step.
 * service  the real service as `npm start` runs it (tests/helpers/processes.ts commandFor("bun")), on a seeded
 *          DATA_DIR, 16 keep-alive mTLS connections doing logins in steps (as bench/run.ts's rssCheck does); RSS from
 *          /proc and the JS heap from the service's own GET /metrics after each step. BUN_FLAGS="--smol" adds
 *          flags to that command line; BUN_JSC_* / BUN_GC_* variables are passed through to the service.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { spawn } from "node:child_process";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { BenchPki } from "./pki.ts";
// Only node: modules above: a stage's child process measures Bun with nothing of the benchmark loaded; the
// benchmark's own modules are imported by main().
const ROOT = join(import.meta.dir, "..");
const BUN = join(ROOT, "node_modules/.bin/bun");

const { values: args } = parseArgs({
  options: {
    logins: { type: "string", default: "100000" },
    step: { type: "string" },
    only: { type: "string" },
    child: { type: "string" },
    "data-dir": { type: "string" },
  },
});

const LOGINS = Number(args.logins);
const STEP = Number(args.step ?? LOGINS / 10);
const CONNECTIONS = 16;
const LOGIN_PATH = "/api/v1/auth/tls-cert-auth/login";

const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const selfRss = () => rssMiB(process.pid);

/** RSS of the largest anonymous mapping at least `minMiB` big whose size matches the WASM memory's (the WASM heap). */
function wasmMappingRss(wasmBytes: number): number | undefined {
  let best: number | undefined;
  let size = 0;
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      const [from, to] = line.split(" ")[0]!.split("-").map((h) => Number.parseInt(h, 16));
      size = to! - from!;
    } else if (line.startsWith("Rss:") && Math.abs(size - wasmBytes) < 2 * 1048576) {
      best = Number(line.split(/\s+/)[1]) / 1024;
    }
  }
  return best;
}

function wasmBytes(database: { db: unknown }): number {
  // drizzle's PGlite session keeps the client; its emscripten module's HEAPU8 spans the whole WASM memory.
  const client = (database.db as { $client?: { mod?: { HEAPU8: Uint8Array } } }).$client;
  return client?.mod?.HEAPU8.length ?? 0;
}

function line(label: string, extra = "") {
  const m = process.memoryUsage();
  console.log(`  ${label.padEnd(44)} rss ${selfRss().toFixed(1).padStart(6)} MiB   js heapUsed ${mib(m.heapUsed).padStart(6)} MiB${extra}`);
}

/** The in-process parts, each run in a child process of its own so that one stage's memory is not the next's. */
async function child(stage: string, dataDir: string) {
  if (stage === "bare") return line("bare bun");
  const { PGlite } = await import("@electric-sql/pglite");
  if (stage === "import") return line("bun + import @electric-sql/pglite");
  if (stage === "pglite-defaults") {
    // PGlite's own settings (shared_buffers 128MB, …): the service as it was before src/db/client.ts chose its own.
    const client = await PGlite.create(join(dataDir, "pgdata"));
    const bytes = (client as unknown as { mod: { HEAPU8: Uint8Array } }).mod.HEAPU8.length;
    line("bun + PGlite.create on disk, PGlite defaults", `   wasm memory ${mib(bytes)} MiB, its rss ${wasmMappingRss(bytes)?.toFixed(1)} MiB`);
    const settings = await client.query<{ name: string; setting: string; unit: string | null }>(
      "select name, setting, unit from pg_settings where name in ('shared_buffers','wal_buffers','temp_buffers','work_mem','maintenance_work_mem','fsync','synchronous_commit','full_page_writes') order by name",
    );
    console.log(`    ${settings.rows.map((r) => `${r.name}=${r.setting}${r.unit && r.unit !== "" ? ` ×${r.unit}` : ""}`).join("  ")}`);
    return client.close();
  }
  const { openDatabase } = await import("../src/db/client.ts");
  const { sql } = await import("drizzle-orm");
  const database = await openDatabase({ url: undefined, dataDir });
  const bytes = wasmBytes(database);
  line("bun + openDatabase (client.ts) + migrations", `   wasm memory ${mib(bytes)} MiB, its rss ${wasmMappingRss(bytes)?.toFixed(1)} MiB`);
  if (stage === "open") {
    const settings = await database.db.execute<{ name: string; setting: string; unit: string | null }>(
      sql`select name, setting, unit from pg_settings where name in ('shared_buffers','wal_buffers','temp_buffers','work_mem','maintenance_work_mem','fsync','synchronous_commit','full_page_writes') order by name`,
    );
    const rows = (settings as unknown as { rows: { name: string; setting: string; unit: string | null }[] }).rows;
    console.log(`    ${rows.map((r) => `${r.name}=${r.setting}${r.unit ? ` ×${r.unit}` : ""}`).join("  ")}`);
    return database.close();
  }
  // stage "pglite": the rows logins write, without the service around them.
  const identity = await database.db.execute<{ id: string; org_id: string }>(sql`select id, org_id from identities where name = 'bench-direct'`);
  const { id, org_id } = (identity as unknown as { rows: { id: string; org_id: string }[] }).rows[0]!;
  for (let done = 0; done < LOGINS; ) {
    const target = Math.min(LOGINS, done + STEP);
    for (; done < target; done++) {
      await database.db.transaction(async (tx) => {
        await tx.execute(
          sql`insert into identity_access_tokens (identity_id, org_id, auth_method, expires_at, access_token_ttl, access_token_max_ttl, cert_thumbprint)
              values (${id}, ${org_id}, 'tls-cert-auth', now() + interval '1 hour', 3600, 3600, 'thumbprint-thumbprint-thumbprint-thumbpr')`,
        );
      });
    }
    const b = wasmBytes(database);
    line(`after ${done} token rows`, `   wasm memory ${mib(b)} MiB, its rss ${wasmMappingRss(b)?.toFixed(1)} MiB`);
  }
  await database.close();
}

function runChild(stage: string, dataDir: string): Promise<void> {
  return new Promise((done, fail) => {
    const c = spawn(BUN, [join(ROOT, "bench/memory.ts"), "--child", stage, "--data-dir", dataDir, "--logins", String(LOGINS), "--step", String(STEP)], {
      cwd: ROOT,
      stdio: ["ignore", "inherit", "inherit"],
    });
    c.once("exit", (code) => (code === 0 ? done() : fail(new Error(`stage ${stage} exited with ${code}`))));
  });
}

/** The service's own view of its memory, from GET /metrics. */
function scrapeMetrics(port: number, pki: BenchPki): Promise<Record<string, number>> {
  return new Promise((done, fail) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/metrics", cert: readFileSync(pki.direct.certFile), key: readFileSync(pki.direct.keyFile), rejectUnauthorized: false, servername: "localhost" },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => {
          const out: Record<string, number> = {};
          for (const m of body.matchAll(/^certauth_process_(\w+)_bytes (\S+)$/gm)) out[m[1]!] = Number(m[2]);
          done(out);
        });
      },
    );
    req.on("error", fail);
    req.end();
  });
}

async function service(pki: BenchPki, dataDir: string, directId: string) {
  const { runLoad, serviceEnv, startServer } = await import("./processes.ts");
  const { commandFor } = await import("../tests/helpers/processes.ts");
  // BUN_FLAGS="--smol" (say) adds runtime flags to npm start's command line, to measure them.
  const [file, ...rest] = commandFor("bun");
  rest.unshift(...(process.env.BUN_FLAGS ?? "").split(/\s+/).filter(Boolean));
  console.log(`  ${[file!.replace(ROOT + "/", ""), ...rest].join(" ")}   DATA_DIR on disk, ${CONNECTIONS} keep-alive mTLS connections`);
  const server = await startServer(
    [file!, ...rest],
    { DATA_DIR: dataDir, ...serviceEnv(pki, "warn") },
    /certauth: listening on/,
  );
  try {
    const report = async (label: string, extra = "") => {
      const m = await scrapeMetrics(server.port, pki);
      console.log(
        `  ${label.padEnd(20)} rss ${rssMiB(server.pid).toFixed(1).padStart(6)} MiB   js heapUsed ${mib(m.heap_used ?? 0).padStart(6)} MiB  heapTotal ${mib(m.heap_total ?? 0).padStart(6)} MiB${extra}`,
      );
      return rssMiB(server.pid);
    };
    const samples = new Map<number, number>([[0, await report("started")]]);
    const body = [JSON.stringify({ identityId: directId })];
    let logins = 0;
    while (logins < LOGINS) {
      const step = Math.min(STEP, LOGINS - logins);
      const r = await runLoad(
        { host: "127.0.0.1", port: server.port, path: LOGIN_PATH, bodies: body, certFile: pki.direct.certFile, keyFile: pki.direct.keyFile, mode: "keep-alive", connections: CONNECTIONS, warmupMs: 0, durationMs: 600_000, maxRequests: step },
        1,
      );
      logins += r.requests;
      const errors = r.requests - (r.statuses["200"] ?? 0);
      samples.set(logins, await report(`after ${logins} logins`, `   ${((r.requests / r.elapsedMs) * 1000).toFixed(0)} logins/s${errors ? `  ${errors} not 200: ${JSON.stringify(r.statuses)}` : ""}`));
    }
    const half = [...samples].find(([n]) => n >= LOGINS / 2)?.[1];
    const end = samples.get(logins)!;
    if (half) console.log(`  growth ${LOGINS / 2} → ${logins} logins: ${(((end - half) / half) * 100).toFixed(1)} %   (target: rss ≤ 200 MiB, growth < 10 %)`);
  } finally {
    await server.stop();
  }
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), "certauth-memory-"));
  const only = args.only;
  const { makeBenchPki } = await import("./pki.ts");
  const { seed } = await import("./seed.ts");
  const { stopAll } = await import("./processes.ts");
  try {
    const pki = await makeBenchPki(work, 0);
    const fresh = async (name: string) => {
      const dataDir = mkdtempSync(join(work, `${name}-`));
      const seeded = await seed({ url: undefined, dataDir, identityCount: 1, caPem: pki.caPem, crlPem: null });
      return { dataDir, seeded };
    };
    if (!only || only === "stages") {
      console.log("stages (a fresh Bun process each, seeded DATA_DIR):");
      const { dataDir } = await fresh("stages");
      for (const stage of ["bare", "import", "pglite-defaults", "open"]) await runChild(stage, dataDir);
    }
    if (!only || only === "pglite") {
      console.log(`pglite alone: ${LOGINS} token rows inserted one transaction each, as logins write them:`);
      const { dataDir } = await fresh("pglite");
      await runChild("pglite", dataDir);
    }
    if (!only || only === "service") {
      console.log(`service: ${LOGINS} logins:`);
      const { dataDir, seeded } = await fresh("service");
      await service(pki, dataDir, seeded.directId);
    }
  } finally {
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  }
}

if (args.child) await child(args.child, args["data-dir"]!);
else await main();
