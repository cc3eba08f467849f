import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { badRequest, forbidden, notFound } from "../errors.ts";
import type { Db } from "../db/client.ts";
import { organizations } from "../db/schema.ts";
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonOk } from "../http/router.ts";
import { assertCanManageOrg } from "./auth.ts";
import { isUniqueViolation } from "./db-errors.ts";
import type { Principal } from "../http/env.ts";

/** Infisical's slug rule (what slugify leaves unchanged): lowercase letters, digits and single hyphens. */
export const slug = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "must be lowercase letters, digits and single hyphens");

const organizationSchema = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    slug: z.string(),
    parentOrgId: z.string().uuid().nullable(),
    rootOrgId: z.string().uuid(),
    createdAt: z.string(),
  })
  .openapi("Organization");

type OrgRow = typeof organizations.$inferSelect;
const present = (o: OrgRow) => ({ ...o, createdAt: o.createdAt.toISOString() });

export async function findOrganization(db: Db, id: string): Promise<OrgRow | undefined> {
  const [row] = await db.select().from(organizations).where(eq(organizations.id, id)).limit(1);
  return row;
}

const idParam = z.object({ id: z.string().uuid() });

export const organizationBody = z.strictObject({
  name: z.string().trim().min(1).max(128),
  slug,
  parentOrganizationId: z.string().uuid().optional(),
});

/** Creates a root organization (admin token only) or a sub-organization of a root the caller manages. */
export async function createOrganization(db: Db, principal: Principal | undefined, body: z.infer<typeof organizationBody>) {
  let parent: OrgRow | undefined;
  if (body.parentOrganizationId) {
    parent = await findOrganization(db, body.parentOrganizationId);
    if (!parent) throw notFound("The parent organization does not exist.");
    if (parent.parentOrgId) throw badRequest("Sub-organizations can only be created under a root organization.");
    assertCanManageOrg(principal, parent);
  } else if (principal?.kind !== "admin") {
    throw forbidden("Only the admin token can create root organizations.");
  }
  const id = crypto.randomUUID();
  try {
    const [row] = await db
      .insert(organizations)
      .values({ id, name: body.name, slug: body.slug, parentOrgId: parent?.id ?? null, rootOrgId: parent?.id ?? id })
      .returning();
    return present(row!);
  } catch (err) {
    if (isUniqueViolation(err)) throw badRequest(`An organization with slug "${body.slug}" already exists here.`);
    throw err;
  }
}

export function organizationRoutes(db: Db) {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/organizations",
      tags: ["Organizations"],
      security: bearerSecurity,
      request: {
        body: jsonBody(organizationBody),
      },
      responses: { ...jsonOk(z.object({ organization: organizationSchema })), ...errorResponses },
    }),
    async (c) => c.json({ organization: await createOrganization(db, c.get("principal"), c.req.valid("json")) }, 200),
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/organizations/{id}",
      tags: ["Organizations"],
      security: bearerSecurity,
      request: { params: idParam },
      responses: { ...jsonOk(z.object({ organization: organizationSchema })), ...errorResponses },
    }),
    async (c) => {
      const org = await findOrganization(db, c.req.valid("param").id);
      if (!org) throw notFound("Organization not found.");
      assertCanManageOrg(c.get("principal"), org);
      return c.json({ organization: present(org) }, 200);
    },
  );

  return router;
}
