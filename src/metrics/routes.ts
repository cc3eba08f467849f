import { createRoute, z } from "@hono/zod-openapi";
import type { Database } from "../db/client.ts";
import { matchesHash, sha256 } from "../admin/auth.ts";
import { bearerToken } from "../http/bearer.ts";
import { unauthorized } from "../errors.ts";
import { createRouter, errorResponses } from "../http/router.ts";
import { withTimeout } from "../status/routes.ts";
import { VERSION } from "../version.ts";
import { exposition, type Metrics, type Sample } from "./registry.ts";

interface MemoryUsage {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** `process.memoryUsage` exists on Bun, Deno and Node alike; read through globalThis to stay runtime-neutral. */
function memoryUsage(): MemoryUsage | undefined {
  const proc = (globalThis as { process?: { memoryUsage?: () => MemoryUsage } }).process;
  return proc?.memoryUsage?.();
}

async function gauges(database: Database, startedAt: number, soonestCrlNextUpdate: () => Promise<Date | null>): Promise<Sample[]> {
  const up = await withTimeout(database.ping(), 1000).then(
    () => 1,
    () => 0,
  );
  const samples: Sample[] = [
    { name: "certauth_build_info", help: "The running version.", type: "gauge", values: [{ labels: { version: VERSION }, value: 1 }] },
    {
      name: "certauth_database_up",
      help: "1 when the database answered a trivial query within 1 s at scrape time, else 0.",
      type: "gauge",
      values: [{ labels: { driver: database.driver }, value: up }],
    },
    { name: "certauth_process_start_time_seconds", help: "When this app instance started, Unix time.", type: "gauge", values: [{ value: startedAt }] },
  ];
  const soonest = await withTimeout(soonestCrlNextUpdate(), 1000).catch(() => null);
  if (soonest) {
    samples.push({
      name: "certauth_crl_next_update_seconds",
      help: "Seconds from now to the soonest nextUpdate of any CRL in use: uploaded, fetched from a URL or from a distribution point (negative once past).",
      type: "gauge",
      values: [{ value: Math.round((soonest.getTime() - Date.now()) / 1000) }],
    });
  }
  const memory = memoryUsage();
  if (memory) {
    samples.push(
      { name: "certauth_process_resident_memory_bytes", help: "Resident set size.", type: "gauge", values: [{ value: memory.rss }] },
      { name: "certauth_process_heap_used_bytes", help: "JavaScript heap in use.", type: "gauge", values: [{ value: memory.heapUsed }] },
      { name: "certauth_process_heap_total_bytes", help: "JavaScript heap reserved.", type: "gauge", values: [{ value: memory.heapTotal }] },
      { name: "certauth_process_external_memory_bytes", help: "Memory held outside the heap (buffers).", type: "gauge", values: [{ value: memory.external }] },
    );
  }
  return samples;
}

/** `GET /metrics`; with METRICS_TOKEN set, only for `Authorization: Bearer <METRICS_TOKEN>`. */
export interface MetricsDeps {
  metrics: Metrics;
  database: Database;
  metricsToken: string | undefined;
  /** The soonest nextUpdate of any CRL in use, null without one. */
  soonestCrlNextUpdate: () => Promise<Date | null>;
}

export function metricsRoutes(deps: MetricsDeps) {
  const router = createRouter();
  const tokenHash = deps.metricsToken ? sha256(deps.metricsToken) : undefined;
  const startedAt = Math.floor(Date.now() / 1000);
  router.openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      tags: ["Operations"],
      description: "Prometheus text exposition. Requires `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set.",
      responses: {
        200: { description: "Prometheus text format 0.0.4", content: { "text/plain": { schema: z.string() } } },
        401: errorResponses[401],
      },
    }),
    async (c) => {
      if (tokenHash) {
        const token = bearerToken(c.req.header("authorization"));
        if (!token || !(await matchesHash(token, await tokenHash))) throw unauthorized("A valid METRICS_TOKEN bearer token is required.");
      }
      const body = exposition(deps.metrics, await gauges(deps.database, startedAt, deps.soonestCrlNextUpdate));
      return c.text(body, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" });
    },
  );
  return router;
}
