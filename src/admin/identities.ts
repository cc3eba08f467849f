import { createRoute, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { badRequest, notFound } from "../errors.ts";
import type { Db } from "../db/client.ts";
import { identities, identityAccessTokens, identityMemberships, organizations } from "../db/schema.ts";
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonOk } from "../http/router.ts";
import { assertCanManageOrg } from "./auth.ts";
import { findOrganization } from "./organizations.ts";
import type { Principal } from "../http/env.ts";

const role = z.enum(["admin", "member"]);

const identitySchema = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    orgId: z.string().uuid(),
    role,
    createdAt: z.string(),
  })
  .openapi("Identity");

type IdentityRow = typeof identities.$inferSelect;
const present = (i: IdentityRow) => ({ id: i.id, name: i.name, orgId: i.orgId, role: i.role, createdAt: i.createdAt.toISOString() });

const identityParam = z.object({ identityId: z.string().uuid() });
const identityAnswer = z.object({ identity: identitySchema });

/**
 * Loads an identity with its organization and checks that the caller may manage it (404 before 403). Answers it
 * with its root organization (`rootOrgId`): the tenant whose limits its work counts against.
 */
export async function loadManagedIdentity(db: Db, principal: Principal | undefined, identityId: string) {
  const [row] = await db
    .select({ identity: identities, org: { id: organizations.id, parentOrgId: organizations.parentOrgId, rootOrgId: organizations.rootOrgId } })
    .from(identities)
    .innerJoin(organizations, eq(organizations.id, identities.orgId))
    .where(eq(identities.id, identityId))
    .limit(1);
  if (!row) throw notFound("Identity not found.");
  assertCanManageOrg(principal, row.org);
  return { ...row.identity, rootOrgId: row.org.rootOrgId };
}

export const identityBody = z.strictObject({
  name: z.string().trim().min(1).max(128),
  organizationId: z.string().uuid(),
  role: role.default("member"),
});

export async function createIdentity(db: Db, principal: Principal | undefined, body: z.infer<typeof identityBody>) {
  const org = await findOrganization(db, body.organizationId);
  if (!org) throw notFound("Organization not found.");
  assertCanManageOrg(principal, org);
  const [row] = await db.insert(identities).values({ name: body.name, orgId: org.id, role: body.role }).returning();
  return present(row!);
}

export function identityRoutes(db: Db) {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/identities",
      tags: ["Identities"],
      security: bearerSecurity,
      request: {
        body: jsonBody(identityBody),
      },
      responses: { ...jsonOk(identityAnswer), ...errorResponses },
    }),
    async (c) => c.json({ identity: await createIdentity(db, c.get("principal"), c.req.valid("json")) }, 200),
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/identities/{identityId}",
      tags: ["Identities"],
      security: bearerSecurity,
      request: { params: identityParam },
      responses: { ...jsonOk(identityAnswer), ...errorResponses },
    }),
    async (c) => {
      const identity = await loadManagedIdentity(db, c.get("principal"), c.req.valid("param").identityId);
      return c.json({ identity: present(identity) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: "patch",
      path: "/api/v1/identities/{identityId}",
      tags: ["Identities"],
      security: bearerSecurity,
      request: {
        params: identityParam,
        body: jsonBody(z.strictObject({ name: z.string().trim().min(1).max(128).optional(), role: role.optional() })),
      },
      responses: { ...jsonOk(identityAnswer), ...errorResponses },
    }),
    async (c) => {
      const { identityId } = c.req.valid("param");
      const body = c.req.valid("json");
      await loadManagedIdentity(db, c.get("principal"), identityId);
      const [row] = await db
        .update(identities)
        .set({ ...body, updatedAt: new Date() })
        .where(eq(identities.id, identityId))
        .returning();
      if (!row) throw notFound("Identity not found.");
      return c.json({ identity: present(row) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/identities/{identityId}",
      tags: ["Identities"],
      security: bearerSecurity,
      description: "Deletes the identity; its tokens stop working at once.",
      request: { params: identityParam },
      responses: { ...jsonOk(identityAnswer), ...errorResponses },
    }),
    async (c) => {
      const { identityId } = c.req.valid("param");
      await loadManagedIdentity(db, c.get("principal"), identityId);
      // Token rows cascade with the identity, so every token it holds fails its next use.
      const [row] = await db.delete(identities).where(eq(identities.id, identityId)).returning();
      if (!row) throw notFound("Identity not found.");
      return c.json({ identity: present(row) }, 200);
    },
  );

  const membershipSchema = z
    .object({ identityId: z.string().uuid(), orgId: z.string().uuid(), role, createdAt: z.string() })
    .openapi("IdentityMembership");
  const orgParam = z.object({ orgId: z.string().uuid() });

  router.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/organizations/{orgId}/identity-memberships",
      tags: ["Organizations"],
      security: bearerSecurity,
      request: {
        params: orgParam,
        body: jsonBody(z.strictObject({ identityId: z.string().uuid(), role: role.default("member") })),
      },
      responses: { ...jsonOk(z.object({ identityMembership: membershipSchema })), ...errorResponses },
    }),
    async (c) => {
      const { orgId } = c.req.valid("param");
      const body = c.req.valid("json");
      const org = await findOrganization(db, orgId);
      if (!org) throw notFound("Organization not found.");
      assertCanManageOrg(c.get("principal"), org);
      if (!org.parentOrgId) throw badRequest("Memberships are for sub-organizations; identities belong to their root organization already.");
      const [identity] = await db.select().from(identities).where(eq(identities.id, body.identityId)).limit(1);
      if (!identity) throw notFound("Identity not found.");
      if (identity.orgId !== org.parentOrgId) {
        throw badRequest("Only identities of the sub-organization's root organization can become members.");
      }
      const [row] = await db
        .insert(identityMemberships)
        .values({ identityId: identity.id, orgId: org.id, role: body.role })
        .onConflictDoUpdate({ target: [identityMemberships.identityId, identityMemberships.orgId], set: { role: body.role } })
        .returning();
      return c.json({ identityMembership: { ...row!, createdAt: row!.createdAt.toISOString() } }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/organizations/{orgId}/identity-memberships/{identityId}",
      tags: ["Organizations"],
      security: bearerSecurity,
      request: { params: orgParam.extend(identityParam.shape) },
      responses: { ...jsonOk(z.object({ identityMembership: membershipSchema })), ...errorResponses },
    }),
    async (c) => {
      const { orgId, identityId } = c.req.valid("param");
      const org = await findOrganization(db, orgId);
      if (!org) throw notFound("Organization not found.");
      assertCanManageOrg(c.get("principal"), org);
      const row = await db.transaction(async (tx) => {
        const [deleted] = await tx
          .delete(identityMemberships)
          .where(and(eq(identityMemberships.orgId, orgId), eq(identityMemberships.identityId, identityId)))
          .returning();
        // Tokens scoped to the sub-organization end with the membership that allowed them.
        if (deleted) {
          await tx
            .delete(identityAccessTokens)
            .where(and(eq(identityAccessTokens.identityId, identityId), eq(identityAccessTokens.orgId, orgId)));
        }
        return deleted;
      });
      if (!row) throw notFound("Membership not found.");
      return c.json({ identityMembership: { ...row, createdAt: row.createdAt.toISOString() } }, 200);
    },
  );

  return router;
}
