/**
 * PRODUCT.md §2.4 renew: same jti, new exp capped at createdAt + max TTL and MAX_TOKEN_TTL; `expiresIn` is the time
 * left. Real short sleeps.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { decodeJwt } from "jose";
import { storageDrivers } from "../helpers/databases.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { createIdentity, createOrg, expectRefused, leafA, leafB, login, RENEW, self, sleep, withCert } from "./world.ts";

const drivers = await storageDrivers();

/** Sleeps until `ms` after the start of second `epochSeconds`. */
const sleepUntil = (epochSeconds: number, ms = 150) => sleep(Math.max(0, epochSeconds * 1000 + ms - Date.now()));

describe.each(drivers)("token renewal on %s", (driver) => {
  let svc: RunningService;
  let orgId: string;

  beforeAll(async () => {
    svc = await startService(driver, { MAX_TOKEN_TTL: "4" });
    orgId = await createOrg(svc);
  }, 60_000);
  afterAll(() => svc?.stop());

  it("extends a TTL 2 / max 3 token to createdAt + 3 with the same jti, renews again to the time left, then it expires", async () => {
    const id = await createIdentity(svc, orgId, { accessTokenTTL: 2, accessTokenMaxTTL: 3 });
    const first = await login(svc, id);
    const c0 = decodeJwt(first.accessToken);
    expect(first.expiresIn).toBe(2);
    expect(c0.exp).toBe(c0.iat! + 2);

    await sleepUntil(c0.iat! + 1);
    const renewed = await svc.call(RENEW, { body: { accessToken: first.accessToken } });
    expect(renewed.status).toBe(200);
    expect(renewed.json).toMatchObject({ tokenType: "Bearer", accessTokenMaxTTL: 3 });
    const c1 = decodeJwt(renewed.json.accessToken);
    expect(c1.jti).toBe(c0.jti);
    expect(c1.exp).toBe(c0.iat! + 3);
    expect(renewed.json.expiresIn).toBe(c1.exp! - c1.iat!);
    expect(renewed.json.expiresIn).toBeLessThanOrEqual(2);

    const self1 = await self(svc, renewed.json.accessToken);
    expect(self1.status).toBe(200);
    expect(self1.json.expiresAt).toBe(new Date(c1.exp! * 1000).toISOString());

    const again = await svc.call(RENEW, { body: { accessToken: renewed.json.accessToken } });
    expect(again.status).toBe(200);
    const c2 = decodeJwt(again.json.accessToken);
    expect(c2.exp).toBe(c0.iat! + 3);
    expect(again.json.expiresIn).toBe(c2.exp! - c2.iat!);

    await sleepUntil(c1.exp!, 50);
    expectRefused(await self(svc, again.json.accessToken), 401, "token_expired");
    expectRefused(await svc.call(RENEW, { body: { accessToken: again.json.accessToken } }), 401, "token_expired");
  });

  it("renews a token with TTL = max TTL (the defaults' shape) to the time it has left", async () => {
    const id = await createIdentity(svc, orgId, { accessTokenTTL: 3, accessTokenMaxTTL: 3 });
    const { accessToken } = await login(svc, id);
    const c0 = decodeJwt(accessToken);
    await sleepUntil(c0.iat! + 1);
    const renewed = await svc.call(RENEW, { body: { accessToken } });
    expect(renewed.status).toBe(200);
    const c1 = decodeJwt(renewed.json.accessToken);
    expect(c1.exp).toBe(c0.exp);
    expect(renewed.json).toMatchObject({ accessTokenMaxTTL: 3, expiresIn: c0.exp! - c1.iat! });
    expect(renewed.json.expiresIn).toBeLessThanOrEqual(2);
    expect((await self(svc, renewed.json.accessToken)).status).toBe(200);
  });

  it("never gives more than MAX_TOKEN_TTL, even with TTL and max TTL 0, also on renewal", async () => {
    const id = await createIdentity(svc, orgId, { accessTokenTTL: 0, accessTokenMaxTTL: 0 });
    const { accessToken, expiresIn } = await login(svc, id);
    expect(expiresIn).toBe(4);
    const c0 = decodeJwt(accessToken);
    const renewed = await svc.call(RENEW, { body: { accessToken } });
    expect(renewed.status).toBe(200);
    const c1 = decodeJwt(renewed.json.accessToken);
    expect(c1.exp).toBe(c0.iat! + 4);
    expect(renewed.json.expiresIn).toBe(c1.exp! - c1.iat!);
  });

  it("does not spend a use, and refuses a revoked token", async () => {
    const id = await createIdentity(svc, orgId, { accessTokenTTL: 2, accessTokenMaxTTL: 4, accessTokenNumUsesLimit: 1 });
    const { accessToken } = await login(svc, id);
    await sleepUntil(decodeJwt(accessToken).iat! + 1, 50);
    const renewed = await svc.call(RENEW, { body: { accessToken } });
    expect(renewed.status).toBe(200);
    expect((await self(svc, renewed.json.accessToken)).json.numUsesRemaining).toBe(0);
    await svc.call("/api/v1/auth/token/revoke", { body: { accessToken } });
    expectRefused(await svc.call(RENEW, { body: { accessToken: renewed.json.accessToken } }), 401, "token_revoked");
  });

  it("renews a bound token only with its certificate", async () => {
    const id = await createIdentity(svc, orgId, { accessTokenTTL: 2, accessTokenMaxTTL: 4, bindTokensToCertificate: true });
    const { accessToken } = await login(svc, id, leafA);
    expectRefused(await svc.call(RENEW, { body: { accessToken }, ...withCert(leafB) }), 401, "certificate_mismatch");
    await sleepUntil(decodeJwt(accessToken).iat! + 1, 50);
    const renewed = await svc.call(RENEW, { body: { accessToken }, ...withCert(leafA) });
    expect(renewed.status).toBe(200);
    expect(decodeJwt(renewed.json.accessToken).cnf).toEqual(decodeJwt(accessToken).cnf);
  });
});
