/**
 * The login body as Infisical validates it (PRODUCT.md §2.1): a malformed `organizationSlug` is a 422, not a 404;
 * the rule is the one organizations are created with.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startServiceProcess, stopAllProcesses, type ServiceProcess } from "../helpers/processes.ts";
import { client, createIdentity, createOrg, LOGIN } from "./infisical-world.ts";

let svc: ServiceProcess;
let identityId: string;

beforeAll(async () => {
  svc = await startServiceProcess("bun");
  identityId = await createIdentity(svc, (await createOrg(svc)).id);
}, 120_000);
afterAll(() => stopAllProcesses());

const login = (organizationSlug: string) =>
  svc.call(LOGIN, { body: { identityId, organizationSlug }, cert: client.pem, key: client.keyPem });

describe("organizationSlug on login", () => {
  it.each(["Not A Slug!", "-org", "org-", "a--b", "Org", "org_1"])("answers %p with 422 ValidationFailure", async (slug) => {
    const res = await login(slug);
    expect(res.status).toBe(422);
    expect(res.json).toMatchObject({ statusCode: 422, error: "ValidationFailure", message: expect.stringContaining("organizationSlug") });
  });
});
