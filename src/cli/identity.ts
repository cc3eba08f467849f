import { createIdentity, identityBody } from "../admin/identities.ts";
import { OPERATOR, validate } from "./admin.ts";
import { formatRecord, output, requiredOption, stringOption, withDatabase, type Command } from "./command.ts";

export const identityCommands: Command[] = [
  {
    path: ["identity", "create"],
    summary: "Create a machine identity in an organization.",
    options: {
      name: { type: "string", value: "<name>", description: "display name (required)" },
      org: { type: "string", value: "<orgId>", description: "the organization's id (required)" },
      role: { type: "string", value: "<role>", description: "admin or member (default member)" },
    },
    async run(ctx) {
      const body = validate(identityBody, {
        name: requiredOption(ctx, "name"),
        organizationId: requiredOption(ctx, "org"),
        role: stringOption(ctx, "role"),
      });
      const identity = await withDatabase(ctx.env, (database) => createIdentity(database.db, OPERATOR, body));
      output(ctx, { identity }, () => `Created identity ${identity.name}\n${formatRecord(identity)}`);
    },
  },
];
