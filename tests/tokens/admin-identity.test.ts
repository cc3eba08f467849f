/** PRODUCT.md §2.3: identity access tokens on the admin API, scoped to the identity's organization and its sub-organizations. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { storageDrivers } from "../helpers/databases.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { bearer, createIdentity, createOrg, expectRefused, INTROSPECT, login, self } from "./world.ts";

const drivers = await storageDrivers();

describe.each(drivers)("identity tokens on the admin API on %s", (driver) => {
  let svc: RunningService;
  let orgId: string;
  let subOrgId: string;
  let otherOrgId: string;
  let adminToken: string;
  let memberToken: string;
  let memberId: string;
  let strangerId: string;

  beforeAll(async () => {
    svc = await startService(driver);
    orgId = await createOrg(svc);
    otherOrgId = await createOrg(svc);
    const sub = await svc.admin("/api/v1/organizations", { body: { name: "sub", slug: "sub", parentOrganizationId: orgId } });
    subOrgId = sub.json.organization.id;
    adminToken = (await login(svc, await createIdentity(svc, orgId, {}, "admin"))).accessToken;
    memberId = await createIdentity(svc, orgId);
    memberToken = (await login(svc, memberId)).accessToken;
    strangerId = await createIdentity(svc, otherOrgId);
  }, 60_000);
  afterAll(() => svc?.stop());

  const as = (token: string) => ({ headers: bearer(token) });

  it("lets an admin identity read and create identities in its organization and sub-organizations (200)", async () => {
    const read = await svc.call(`/api/v1/identities/${memberId}`, as(adminToken));
    expect(read.status).toBe(200);
    expect(read.json.identity.id).toBe(memberId);
    const created = await svc.call("/api/v1/identities", { body: { name: "made-by-identity", organizationId: orgId }, ...as(adminToken) });
    expect(created.status).toBe(200);
    const inSub = await svc.call("/api/v1/identities", { body: { name: "in-sub", organizationId: subOrgId }, ...as(adminToken) });
    expect(inSub.status).toBe(200);
  });

  it("answers 403 to an admin identity in another root organization", async () => {
    expectRefused(await svc.call(`/api/v1/identities/${strangerId}`, as(adminToken)), 403);
    expectRefused(await svc.call("/api/v1/identities", { body: { name: "x", organizationId: otherOrgId }, ...as(adminToken) }), 403);
  });

  it("answers 403 to a member identity's token", async () => {
    expectRefused(await svc.call(`/api/v1/identities/${memberId}`, as(memberToken)), 403);
  });

  it("answers 401 to a revoked or forged identity token", async () => {
    const token = (await login(svc, await createIdentity(svc, orgId, {}, "admin"))).accessToken;
    await svc.call("/api/v1/auth/token/revoke", { body: { accessToken: token } });
    expectRefused(await svc.call(`/api/v1/identities/${memberId}`, as(token)), 401, "token_revoked");
    expectRefused(await svc.call(`/api/v1/identities/${memberId}`, as(`${token.slice(0, -4)}AAAA`)), 401, "invalid_token");
  });

  it("counts each admin request as a use of the identity token", async () => {
    const id = await createIdentity(svc, orgId, { accessTokenNumUsesLimit: 2 }, "admin");
    const { accessToken } = await login(svc, id);
    expect((await svc.call(`/api/v1/identities/${memberId}`, as(accessToken))).status).toBe(200);
    expect((await self(svc, accessToken)).json.numUsesRemaining).toBe(0);
    expectRefused(await svc.call(`/api/v1/identities/${memberId}`, as(accessToken)), 401, "uses_exhausted");
  });

  it("lets an admin identity introspect tokens of its organization only", async () => {
    const stranger = (await login(svc, strangerId)).accessToken;
    expect((await svc.call(INTROSPECT, { body: { token: memberToken }, ...as(adminToken) })).json).toMatchObject({ active: true, sub: memberId });
    expect((await svc.call(INTROSPECT, { body: { token: stranger }, ...as(adminToken) })).json).toEqual({ active: false });
    expectRefused(await svc.call(INTROSPECT, { body: { token: stranger }, ...as(memberToken) }), 403);
  });
});
