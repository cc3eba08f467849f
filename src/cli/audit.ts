import { listAuditLogs } from "../audit/events.ts";
import { z } from "zod";
import { validate } from "./admin.ts";
import { escapeControls } from "../terminal.ts";
import { output, stringOption, withDatabase, type Command } from "./command.ts";

/** The filter of GET /api/v1/audit-logs. */
const filter = z.strictObject({
  identityId: z.string().uuid().optional(),
  eventType: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(20),
});

export const auditCommands: Command[] = [
  {
    path: ["audit"],
    summary: "Recent audit events, newest first.",
    options: {
      identity: { type: "string", value: "<identityId>", description: "only this identity's events" },
      "event-type": { type: "string", value: "<type>", description: "e.g. login-identity-tls-cert-auth-failed" },
      limit: { type: "string", value: "<n>", description: "how many (1-1000, default 20)" },
    },
    async run(ctx) {
      const query = validate(filter, {
        identityId: stringOption(ctx, "identity"),
        eventType: stringOption(ctx, "event-type"),
        limit: stringOption(ctx, "limit"),
      });
      const auditLogs = await withDatabase(ctx.env, (database) => listAuditLogs(database.db, query));
      output(ctx, { auditLogs }, () => {
        if (auditLogs.length === 0) return "no audit events";
        return auditLogs
          .map((e) =>
            [e.createdAt, e.eventType, `identity=${e.identityId ?? "-"}`, e.reasonCode ? `reason=${e.reasonCode}` : "", `ip=${e.clientIp ?? "-"}`, e.certificateSubject ? `subject="${e.certificateSubject}"` : ""]
              .filter(Boolean)
              .map(escapeControls)
              .join("  "),
          )
          .join("\n");
      });
    },
  },
];
