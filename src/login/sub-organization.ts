import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { identityMemberships, organizations } from "../db/schema.ts";
import { notAMember, subOrganizationNotFound } from "./refusals.ts";

/**
 * The organization the token is for: the identity's own, or a sub-organization it is a member of.
 * `found` learns the sub-organization before membership is judged, so a refusal is audited against it.
 */
export async function scopeOrganization(
  db: Db,
  identityId: string,
  home: { id: string; slug: string },
  slug: string | undefined,
  found: (orgId: string) => void,
): Promise<string> {
  if (slug === undefined || slug === home.slug) return home.id;
  const [sub] = await db
    .select({ id: organizations.id, member: identityMemberships.identityId })
    .from(organizations)
    .leftJoin(identityMemberships, and(eq(identityMemberships.orgId, organizations.id), eq(identityMemberships.identityId, identityId)))
    .where(and(eq(organizations.parentOrgId, home.id), eq(organizations.slug, slug)))
    .limit(1);
  if (!sub) throw subOrganizationNotFound(slug);
  found(sub.id);
  if (!sub.member) throw notAMember();
  return sub.id;
}
