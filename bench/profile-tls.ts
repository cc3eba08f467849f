/**
 * `bun bench/profile.ts --tls` — where a new connection's login spends its CPU, against a kept-alive one: over
 * real mTLS, a ladder of servers that each add one stage of the login to the one before (bench/http-path-server.ts),
 * loaded in both modes by the benchmark's generator. Reported per stage: server CPU per request (utime+stime from
 * /proc) in keep-alive and handshake mode, what the stage adds over the one before in each mode, and the difference
 * of the two, which is what the stage costs per connection rather than per login.
 *
 *   ceiling  bench/ceiling-server.ts, peer chain read once per connection: the TLS handshake and HTTP
 *   bridge   + the service's node:tls → node:http bridge and Request/Response conversion (its connection hooks included)
 *   app      + Hono, middleware, body parse and validation, the request log line, the PGlite database opened
 *            (idle: its heap and the runtime's collector hints); the login stubbed
 *   lookup   + the identity found (remembered row)
 *   verify   + the leaf decoded (certificate cache) and the chain verified (trust and verified-chain caches)
 *   sign     + the token signed
 *   login    + the token and its audit event written (group commit): the service itself (src/server/bun.ts)
 *
 *   bun bench/profile.ts --tls [--rounds 3] [--duration 3] [--stages …] [--compare DIR] [--log-level info]
 *
 * BENCH_SERVICE_FLAGS (as for `npm run bench`) goes to every server but the ceiling: with `--modes handshake
 * --stages login` and `--cpu-prof-md --cpu-prof-dir=…`, a CPU profile of new-connection logins alone.
 * --compare DIR also runs DIR's `login` stage (or those of --compare-stages; a `git worktree` of another commit,
 * node_modules linked in) as base-login, in the same rounds. --compare-env "NAME=value …" sets environment
 * variables for those base servers alone (with --compare . : the same code under another runtime setting, such
 * as BUN_JSC_* options). Servers take turns round by round (round 0 only warms up) so that whatever
 * else the machine runs falls on all alike; the range is the lowest and highest round. Ratios and differences
 * measured side by side are what to read; absolute figures on a shared machine move 10–25 %.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeBenchPki } from "./pki.ts";
import { BUN, cpuMs, minorFaults, ROOT, rssMiB, runLoad, serviceEnv, startServer, stopAll, type Server } from "./processes.ts";
import { seed } from "./seed.ts";

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--tls"),
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "3" },
    connections: { type: "string", default: "16" },
    stages: { type: "string", default: "ceiling,bridge,app,lookup,verify,sign,login" },
    modes: { type: "string", default: "keep-alive,handshake" },
    "log-level": { type: "string", default: "info" },
    compare: { type: "string" },
    "compare-stages": { type: "string", default: "login" },
    "compare-env": { type: "string", default: "" },
  },
});

type Mode = "keep-alive" | "handshake";
const modes = args.modes!.split(",") as Mode[];
const stages = args.stages!.split(",");
const DATABASE_STAGES = new Set(["app", "lookup", "verify", "sign", "login"]);
const work = mkdtempSync(join(tmpdir(), "certauth-profile-tls-"));

try {
  const pki = await makeBenchPki(work, 0);
  const tlsEnv = { TLS_CERT_FILE: pki.serverCertFile, TLS_KEY_FILE: pki.serverKeyFile };
  /** The body each server is sent: the identity seeded in its own database. */
  const bodies = new Map<Server, string>();
  const compareEnv = Object.fromEntries(
    args["compare-env"]!.split(" ").filter(Boolean).map((pair) => {
      const at = pair.indexOf("=");
      if (at < 1) throw new Error(`--compare-env wants NAME=value pairs, got ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  const serverOf = async (root: string, stage: string, extraEnv: Record<string, string> = {}): Promise<Server> => {
    let identityId = "00000000-0000-4000-8000-000000000000";
    if (stage === "ceiling") return startServer([BUN, join(root, "bench/ceiling-server.ts")], { ...tlsEnv, PEER_READ: "connection", ...extraEnv }, /listening/);
    const env: Record<string, string> = { ...serviceEnv(pki, args["log-level"]!), STAGE: stage, ...extraEnv };
    if (DATABASE_STAGES.has(stage)) {
      // A database of its own per server: an embedded database belongs to one process.
      env.DATA_DIR = mkdtempSync(join(work, `${stage}-`));
      identityId = (await seed({ url: undefined, dataDir: env.DATA_DIR, identityCount: 1, caPem: pki.caPem, crlPem: null })).directId;
    }
    const flags = process.env.BENCH_SERVICE_FLAGS?.split(" ").filter(Boolean) ?? [];
    // The login stage is the service itself, as `npm start` runs it.
    const server =
      stage === "login"
        ? await startServer([BUN, ...flags, "--max-http-header-size=81920", join(root, "src/server/bun.ts")], env, /certauth: listening on/)
        : await startServer([BUN, ...flags, join(root, "bench/http-path-server.ts")], env, /listening/);
    bodies.set(server, JSON.stringify({ identityId }));
    return server;
  };
  const servers = new Map<string, Server>();
  for (const stage of stages) servers.set(stage, await serverOf(ROOT, stage));
  if (args.compare) for (const stage of args["compare-stages"]!.split(",")) servers.set(`base-${stage}`, await serverOf(args.compare, stage, compareEnv));

  /** Per mode and server: CPU (ms) and requests of each counted round. */
  const rounds = new Map<string, { cpuMs: number; faults: number; requests: number; statuses: Record<string, number> }[]>();
  /** Per server: the highest RSS seen at the end of a round, in MiB. */
  const rss = new Map<string, number>();
  for (const mode of modes) {
    for (let round = 0; round <= Number(args.rounds); round++) {
      for (const [name, server] of servers) {
        const before = cpuMs(server.pid);
        const faultsBefore = minorFaults(server.pid);
        // No warm-up inside the round: every answer counts, so CPU is read over the whole load (round 0 warms up).
        const result = await runLoad(
          {
            host: "127.0.0.1",
            port: server.port,
            path: "/api/v1/auth/tls-cert-auth/login",
            bodies: [bodies.get(server) ?? "{}"],
            certFile: pki.direct.certFile,
            keyFile: pki.direct.keyFile,
            mode,
            connections: Number(args.connections),
            warmupMs: 0,
            durationMs: Number(args.duration) * 1000,
            maxRequests: Number.MAX_SAFE_INTEGER,
          },
          mode === "handshake" ? 2 : 1,
        );
        const cpu = cpuMs(server.pid) - before;
        const faults = minorFaults(server.pid) - faultsBefore;
        rss.set(name, Math.max(rss.get(name) ?? 0, rssMiB(server.pid)));
        if (round === 0) continue;
        const key = `${mode}/${name}`;
        rounds.set(key, [...(rounds.get(key) ?? []), { cpuMs: cpu, faults, requests: result.requests, statuses: result.statuses }]);
        console.error(`${mode.padEnd(10)} round ${round} ${name.padEnd(10)} ${((cpu * 1000) / result.requests).toFixed(0).padStart(6)} µs/req  ${(result.requests / (result.elapsedMs / 1000)).toFixed(0)} req/s`);
      }
    }
  }

  const perRequest = (mode: Mode, name: string) => {
    const list = rounds.get(`${mode}/${name}`) ?? [];
    const cpu = list.reduce((n, r) => n + r.cpuMs, 0);
    const requests = list.reduce((n, r) => n + r.requests, 0);
    const each = list.map((r) => (r.cpuMs * 1000) / r.requests);
    const faults = list.reduce((n, r) => n + r.faults, 0) / requests;
    return { faults, us: (cpu * 1000) / requests, low: Math.min(...each), high: Math.max(...each), statuses: list.flatMap((r) => Object.keys(r.statuses)) };
  };
  const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "–");
  console.log(`\nserver CPU per request, µs (${args.rounds} rounds of ${args.duration} s, ${args.connections} connections; range = lowest–highest round)\n`);
  console.log("| stage | keep-alive | + stage | handshake | + stage | per connection (Δ handshake − Δ keep-alive) | page faults per request, keep-alive / handshake | RSS MiB |");
  console.log("|---|---:|---:|---:|---:|---:|---|---:|");
  let previous: Record<Mode, number> | null = null;
  for (const name of servers.keys()) {
    const m = Object.fromEntries(modes.map((mode) => [mode, perRequest(mode, name)])) as Record<Mode, ReturnType<typeof perRequest>>;
    const ka = m["keep-alive"];
    const hs = m.handshake;
    const base = name.startsWith("base-") ? null : previous;
    const dKa = base && ka ? ka.us - base["keep-alive"] : NaN;
    const dHs = base && hs ? hs.us - base.handshake : NaN;
    const cell = (r: ReturnType<typeof perRequest> | undefined) => (r ? `${fmt(r.us)} (${fmt(r.low)}–${fmt(r.high)})` : "–");
    const odd = [...new Set([...(ka?.statuses ?? []), ...(hs?.statuses ?? [])])].filter((s) => s !== "200");
    console.log(`| ${name}${odd.length ? ` (statuses ${odd.join(",")})` : ""} | ${cell(ka)} | ${fmt(dKa)} | ${cell(hs)} | ${fmt(dHs)} | ${fmt(dHs - dKa)} | ${ka ? ka.faults.toFixed(2) : "–"} / ${hs ? hs.faults.toFixed(2) : "–"} | ${fmt(rss.get(name) ?? NaN)} |`);
    if (!name.startsWith("base-")) previous = { "keep-alive": ka?.us ?? NaN, handshake: hs?.us ?? NaN };
  }
  // Side by side: each round's ratio of a stage to its base-, which cancels what the machine did in that round.
  for (const name of servers.keys()) {
    if (!name.startsWith("base-")) continue;
    const mine = name.slice("base-".length);
    for (const mode of modes) {
      const a = rounds.get(`${mode}/${mine}`) ?? [];
      const b = rounds.get(`${mode}/${name}`) ?? [];
      const ratios = a.map((r, i) => r.cpuMs / r.requests / (b[i]!.cpuMs / b[i]!.requests)).sort((x, y) => x - y);
      if (ratios.length) console.log(`\n${mode}: ${mine} / ${name} per round: median ${ratios[ratios.length >> 1]!.toFixed(3)} (${ratios.map((r) => r.toFixed(2)).join(" ")})`);
    }
  }
  const first = stages[0]!;
  const last = stages.at(-1)!;
  for (const mode of modes) {
    const ratio = perRequest(mode, last).us / perRequest(mode, first).us;
    console.log(`\n${mode}: ${last} costs ${ratio.toFixed(2)}× ${first} per request`);
  }
} finally {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
}
