import { and, desc, eq, inArray, or, type SQL } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { auditLogs, organizations } from "../db/schema.ts";

export const LOGIN_SUCCEEDED = "login-identity-tls-cert-auth";
export const LOGIN_FAILED = "login-identity-tls-cert-auth-failed";

export async function listAuditLogs(
  db: Db,
  filter: { identityId?: string; eventType?: string; limit: number; orgScope?: string },
) {
  const where: SQL[] = [];
  if (filter.identityId) where.push(eq(auditLogs.identityId, filter.identityId));
  if (filter.eventType) where.push(eq(auditLogs.eventType, filter.eventType));
  if (filter.orgScope) {
    const subOrgs = db.select({ id: organizations.id }).from(organizations).where(eq(organizations.parentOrgId, filter.orgScope));
    where.push(or(eq(auditLogs.orgId, filter.orgScope), inArray(auditLogs.orgId, subOrgs))!);
  }
  const rows = await db
    .select()
    .from(auditLogs)
    .where(and(...where))
    .orderBy(desc(auditLogs.createdAt), desc(auditLogs.id))
    .limit(filter.limit);
  return rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() }));
}
