import { createRoute, z } from "@hono/zod-openapi";
import type { Db } from "../db/client.ts";
import { listAuditLogs } from "../audit/events.ts";
import { bearerSecurity, createRouter, errorResponses, jsonOk } from "../http/router.ts";

const auditLogSchema = z
  .object({
    id: z.string().uuid(),
    eventType: z.string(),
    identityId: z.string().nullable(),
    orgId: z.string().nullable(),
    reasonCode: z.string().nullable(),
    certificateFingerprint: z.string().nullable(),
    certificateSubject: z.string().nullable(),
    clientIp: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi("AuditLog");

export function auditLogRoutes(db: Db) {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/audit-logs",
      tags: ["Audit logs"],
      security: bearerSecurity,
      request: {
        query: z.strictObject({
          identityId: z.string().uuid().optional(),
          eventType: z.string().max(128).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
      },
      responses: { ...jsonOk(z.object({ auditLogs: z.array(auditLogSchema) })), ...errorResponses },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const principal = c.get("principal");
      const orgScope = principal?.kind === "identity" ? principal.orgId : undefined;
      return c.json({ auditLogs: await listAuditLogs(db, { ...query, orgScope }) }, 200);
    },
  );
  return router;
}
