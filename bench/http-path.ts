/**
 * `bun bench/http-path.ts` — server CPU per request of each stage of the HTTP path, side by side, over real
 * mTLS connections with a client certificate (the load generator of `npm run bench`; keep-alive by default):
 *
 *   ceiling  bench/ceiling-server.ts: node:tls → node:http, peer chain read per request, fixed body
 *   bridge   the service's bridge and node:http ⇄ Request/Response conversion, trivial fetch (http-path-server.ts)
 *   app      the full app with the login route and a stubbed login service: no database, no signing
 *
 * All servers run at once; rounds alternate between them so that load from other work on the machine falls
 * on all alike (round 0 only warms up). Reported: server CPU (utime+stime from /proc, scaled to the worker's
 * measured window) per request, in µs, and its ratio to the ceiling measured in the same rounds. Only ratios
 * mean anything on a shared machine; expect ±15 % between runs, more in handshake mode.
 *
 *   bun bench/http-path.ts [--rounds 4] [--duration 3] [--connections 16] [--workers 1] [--log-level info]
 *                          [--stages ceiling,bridge,app,app-silent] [--mode keep-alive|handshake] [--compare DIR]
 *
 *   app-silent  the app with LOG_LEVEL=silent: what the request log line costs
 *   --compare   also runs the bridge and app stages of another checkout (e.g. a `git worktree` of the commit
 *               before a change, with node_modules linked in), as base-bridge and base-app, in the same rounds
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeBenchPki } from "./pki.ts";
import { BUN, cpuMs, ROOT, runLoad, startServer, stopAll, type Server } from "./processes.ts";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "4" },
    duration: { type: "string", default: "3" },
    connections: { type: "string", default: "16" },
    workers: { type: "string", default: "1" },
    "log-level": { type: "string", default: "info" },
    mode: { type: "string", default: "keep-alive" },
    stages: { type: "string", default: "ceiling,bridge,app" },
    compare: { type: "string" },
  },
});

const dir = mkdtempSync(join(tmpdir(), "certauth-http-path-"));
try {
  const pki = await makeBenchPki(dir, 0);
  const tlsEnv = { TLS_CERT_FILE: pki.serverCertFile, TLS_KEY_FILE: pki.serverKeyFile };
  const stages = args.stages!.split(",");
  const serverOf = (root: string, stage: string): Promise<Server> => {
    if (stage === "ceiling") return startServer([BUN, join(root, "bench/ceiling-server.ts")], { ...tlsEnv, PEER_READ: "request" }, /listening/);
    const [name, level] = stage === "app-silent" ? ["app", "silent"] : [stage, args["log-level"]!];
    return startServer([BUN, join(root, "bench/http-path-server.ts")], { ...tlsEnv, STAGE: name, LOG_LEVEL: level }, /listening/);
  };
  const servers: Record<string, Server> = {};
  for (const stage of stages) servers[stage] = await serverOf(ROOT, stage);
  if (args.compare) for (const stage of stages.filter((s) => s !== "ceiling")) servers[`base-${stage}`] = await serverOf(args.compare, stage);
  const totals: Record<string, { cpu: number; requests: number; statuses: Record<string, number> }> = {};
  const body = JSON.stringify({ identityId: "00000000-0000-4000-8000-000000000000" });
  for (let round = 0; round <= Number(args.rounds); round++) {
    for (const [name, server] of Object.entries(servers)) {
      const before = cpuMs(server.pid);
      const result = await runLoad(
        {
          host: "127.0.0.1",
          port: server.port,
          path: "/api/v1/auth/tls-cert-auth/login",
          bodies: [body],
          certFile: pki.direct.certFile,
          keyFile: pki.direct.keyFile,
          mode: args.mode as "keep-alive" | "handshake",
          connections: Number(args.connections),
          warmupMs: 300,
          durationMs: Number(args.duration) * 1000,
          maxRequests: Number.MAX_SAFE_INTEGER,
        },
        Number(args.workers),
      );
      // Round 0 warms the JIT up and is not counted. CPU covers warm-up and wind-down too: count all answers.
      const cpu = cpuMs(server.pid) - before;
      if (round === 0) continue;
      const total = (totals[name] ??= { cpu: 0, requests: 0, statuses: {} });
      // The worker counts only the measured window; scale the CPU to it by elapsed share.
      const windowShare = result.elapsedMs / (result.elapsedMs + 300 + 50);
      total.cpu += cpu * windowShare;
      total.requests += result.requests;
      for (const [k, v] of Object.entries(result.statuses)) total.statuses[k] = (total.statuses[k] ?? 0) + v;
      console.error(`round ${round} ${name.padEnd(15)} ${((cpu * windowShare * 1000) / result.requests).toFixed(0).padStart(6)} µs/req  ${(result.requests / (result.elapsedMs / 1000)).toFixed(0)} req/s`);
    }
  }
  const ceiling = totals.ceiling!.cpu / totals.ceiling!.requests;
  console.log(`server CPU per request (${args.mode}, ${args.connections} connections, LOG_LEVEL=${args["log-level"]}):`);
  for (const [name, t] of Object.entries(totals)) {
    const perReq = t.cpu / t.requests;
    console.log(`  ${name.padEnd(15)} ${(perReq * 1000).toFixed(0).padStart(6)} µs   ${(perReq / ceiling).toFixed(2).padStart(5)}× ceiling   statuses ${JSON.stringify(t.statuses)}`);
  }
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
