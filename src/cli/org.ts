import { createOrganization, organizationBody } from "../admin/organizations.ts";
import { OPERATOR, validate } from "./admin.ts";
import { formatRecord, output, requiredOption, stringOption, withDatabase, type Command } from "./command.ts";

export const orgCommands: Command[] = [
  {
    path: ["org", "create"],
    summary: "Create an organization (a root one, or a sub-organization with --parent).",
    options: {
      name: { type: "string", value: "<name>", description: "display name (required)" },
      slug: { type: "string", value: "<slug>", description: "lowercase letters, digits and hyphens, 1-64 (required)" },
      parent: { type: "string", value: "<orgId>", description: "make it a sub-organization of this root organization" },
    },
    async run(ctx) {
      const body = validate(organizationBody, {
        name: requiredOption(ctx, "name"),
        slug: requiredOption(ctx, "slug"),
        parentOrganizationId: stringOption(ctx, "parent"),
      });
      const organization = await withDatabase(ctx.env, (database) => createOrganization(database.db, OPERATOR, body));
      output(ctx, { organization }, () => `Created organization ${organization.slug}\n${formatRecord(organization)}`);
    },
  },
];
