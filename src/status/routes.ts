import { createRoute, z } from "@hono/zod-openapi";
import type { Database } from "../db/client.ts";
import { unavailable } from "../errors.ts";
import { createRouter, errorResponses, jsonOk } from "../http/router.ts";
import { VERSION } from "../version.ts";

export function statusRoutes(database: Database) {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: "get",
      path: "/api/status",
      tags: ["Operations"],
      responses: {
        ...jsonOk(z.object({ status: z.literal("ok"), version: z.string(), database: z.literal("ok") })),
        503: errorResponses[503],
      },
    }),
    async (c) => {
      try {
        await withTimeout(database.ping(), 2000);
      } catch {
        throw unavailable();
      }
      return c.json({ status: "ok" as const, version: VERSION, database: "ok" as const }, 200);
    },
  );
  return router;
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
