/**
 * `@infisical/sdk` 5.0.2, as a Node/Bun program uses it against certauth: the SDK has no TLS certificate login of
 * its own, so the login goes through its API client (which calls the global `fetch`), with the client
 * certificate given to `fetch` the way a Bun program does. Then `auth().universalAuth.renew()` under the
 * default TTLs (TTL = max TTL = 30 days; PRODUCT.md §2.4), then a use of the renewed token.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InfisicalSDK } from "@infisical/sdk";
import { decodeJwt } from "jose";
import { startServiceProcess, stopAllProcesses, type ServiceProcess } from "../helpers/processes.ts";
import { client, createIdentity, createOrg, LOGIN } from "./infisical-world.ts";

let svc: ServiceProcess;
let orgId: string;
const plainFetch = globalThis.fetch;

beforeAll(async () => {
  svc = await startServiceProcess("bun");
  orgId = (await createOrg(svc)).id;
  // Every request the SDK makes presents the client certificate and checks the server's own (Bun's fetch `tls`).
  const tls = { cert: client.pem, key: client.keyPem, ca: readFileSync(join(svc.dataDir, "server.crt"), "utf8") };
  globalThis.fetch = Object.assign((input: string | URL | Request, init?: RequestInit) => plainFetch(input, { ...init, tls } as RequestInit), plainFetch);
}, 120_000);
afterAll(async () => {
  globalThis.fetch = plainFetch;
  await stopAllProcesses();
});

interface LoginAnswer {
  accessToken: string;
  expiresIn: number;
  accessTokenMaxTTL: number;
  tokenType: string;
}

describe("@infisical/sdk 5.0.2 against certauth", () => {
  it("logs in through its API client, renews under the default TTLs and uses the renewed token", async () => {
    const identityId = await createIdentity(svc, orgId);
    const sdk = new InfisicalSDK({ siteUrl: svc.url });
    // The SDK's own HTTP client; it has no login method for TLS cert auth.
    const api = sdk["apiClient"];

    const login = (await api.post(LOGIN, { identityId })) as LoginAnswer;
    expect(login).toMatchObject({ tokenType: "Bearer", expiresIn: 2_592_000, accessTokenMaxTTL: 2_592_000 });
    sdk.auth().accessToken(login.accessToken);

    await sdk.auth().universalAuth.renew();
    const renewed = sdk.auth().getAccessToken()!;
    const before = decodeJwt(login.accessToken);
    const after = decodeJwt(renewed);
    expect(after.jti).toBe(before.jti);
    // Capped at creation + max TTL: the renewed token lives exactly as long as the first.
    expect(after.exp).toBe(before.exp);

    const self = (await api.get("/api/v1/auth/token/self")) as { identityId: string; expiresAt: string };
    expect(self.identityId).toBe(identityId);
    expect(self.expiresAt).toBe(new Date(after.exp! * 1000).toISOString());
  });

  it("answers the renewal with the time the token has left", async () => {
    const identityId = await createIdentity(svc, orgId);
    const sdk = new InfisicalSDK({ siteUrl: svc.url });
    const api = sdk["apiClient"];
    const login = (await api.post(LOGIN, { identityId })) as LoginAnswer;
    const renewed = (await api.post("/api/v1/auth/token/renew", { accessToken: login.accessToken })) as LoginAnswer;
    const claims = decodeJwt(renewed.accessToken);
    expect(renewed).toMatchObject({ tokenType: "Bearer", accessTokenMaxTTL: 2_592_000, expiresIn: claims.exp! - claims.iat! });
    expect(claims.exp).toBe(decodeJwt(login.accessToken).exp);
  });
});
