/**
 * `certauth/middleware` protecting a sample route: in-process on Bun (app.fetch) and in a Node process (tsx,
 * node:http), both verifying tokens against the running certauth's JWKS over HTTPS.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Hono } from "hono";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { certauthAuth, type CertauthAuthOptions, type CertauthEnv } from "certauth/middleware";
import { startService, type RunningService } from "../helpers/service.ts";
import { createIdentity, createOrg, INTROSPECT, JWKS, leafA, leafB, login, REVOKE } from "./world.ts";

let svc: RunningService;
let orgId: string;
let serverCa: string;

beforeAll(async () => {
  svc = await startService("pglite");
  orgId = await createOrg(svc);
  serverCa = readFileSync(join(svc.dataDir, "server.crt"), "utf8");
}, 60_000);
afterAll(() => svc?.stop());

const token = async (config: Record<string, unknown> = {}, leaf = leafA) =>
  (await login(svc, await createIdentity(svc, orgId, config), leaf)).accessToken;

describe("certauth/middleware on Bun", () => {
  type PeerEnv = { Bindings: { clientCert?: Uint8Array } } & CertauthEnv;

  function protectedApp(extra: Partial<CertauthAuthOptions> = {}) {
    const app = new Hono<PeerEnv>();
    app.use(
      "/protected",
      certauthAuth({
        jwksUrl: `${svc.url}${JWKS}`,
        // certauth's self-signed server certificate is the only CA this fetch trusts.
        fetch: (url, init) => fetch(url, { ...init, tls: { ca: serverCa } } as RequestInit),
        getClientCertificate: (c) => (c.env as PeerEnv["Bindings"] | undefined)?.clientCert,
        jwksCache: { cooldownDuration: 0 },
        ...extra,
      }),
    );
    app.get("/protected", (c) => c.json({ claims: c.var.certauth }));
    return (bearerToken?: string, clientCert?: Uint8Array) =>
      app.fetch(
        new Request("http://downstream.test/protected", { headers: bearerToken ? { authorization: `Bearer ${bearerToken}` } : {} }),
        { clientCert },
      );
  }

  it("lets a valid token through with its claims in c.var.certauth", async () => {
    const call = protectedApp();
    const accessToken = await token();
    const res = await call(accessToken);
    expect(res.status).toBe(200);
    expect((await res.json()).claims).toMatchObject({ jti: decodeJwt(accessToken).jti, orgId, authTokenType: "identityAccessToken" });
  });

  it("answers 401 with WWW-Authenticate without a token and for a tampered one", async () => {
    const call = protectedApp();
    const missing = await call();
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe("Bearer");
    const accessToken = await token();
    const [h, p, s] = accessToken.split(".");
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(accessToken), orgId: "other" })).toString("base64url")}.${s}`;
    expect(p).toBeString();
    const res = await call(tampered);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("checks a bound token's cnf.x5t#S256 against the peer certificate", async () => {
    const call = protectedApp();
    const bound = await token({ bindTokensToCertificate: true }, leafA);
    expect((await call(bound, leafA.der)).status).toBe(200);
    expect((await call(bound, leafB.der)).status).toBe(401);
    expect((await call(bound)).status).toBe(401);
  });

  it("sees revocation only when introspection is configured", async () => {
    const jwksOnly = protectedApp();
    const introspecting = protectedApp({ introspectUrl: `${svc.url}${INTROSPECT}` });
    const accessToken = await token({ accessTokenNumUsesLimit: 1 });
    expect((await introspecting(accessToken)).status).toBe(200);
    expect((await introspecting(accessToken)).status).toBe(200);
    expect((await svc.call(REVOKE, { body: { accessToken } })).status).toBe(200);
    expect((await jwksOnly(accessToken)).status).toBe(200);
    expect((await introspecting(accessToken)).status).toBe(401);
  });

  it("fetches the JWKS again for a kid it has not seen (key rotation)", async () => {
    const call = protectedApp();
    expect((await call(await token())).status).toBe(200);
    const kid = await svc.service.signer.rotate(svc.service.config.MAX_TOKEN_TTL);
    const rotated = await token();
    expect(decodeProtectedHeader(rotated).kid).toBe(kid);
    expect((await call(rotated)).status).toBe(200);
  });

  it("verifies against a JWKS held in memory", async () => {
    const jwks = (await svc.call(JWKS)).json;
    const call = protectedApp({ jwksUrl: undefined, jwks });
    expect((await call(await token())).status).toBe(200);
  });
});

describe("certauth/middleware on Node", () => {
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  let base: string;

  beforeAll(async () => {
    // One node process (tsx as a loader, not its CLI), so that killing it leaves nothing behind.
    proc = Bun.spawn(["node", "--import", "tsx", join(import.meta.dir, "fixtures/node-protected-server.ts")], {
      cwd: join(import.meta.dir, "../.."),
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: join(svc.dataDir, "server.crt"),
        CERTAUTH_JWKS_URL: `${svc.url}${JWKS}`,
        CERTAUTH_INTROSPECT_URL: `${svc.url}${INTROSPECT}`,
      },
      stdout: "pipe",
      stderr: "inherit",
    });
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the Node server exited: ${text}`);
      text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    base = `http://127.0.0.1:${JSON.parse(text.split("\n")[0]!).port}`;
  }, 60_000);
  afterAll(async () => {
    proc?.kill();
    await proc?.exited;
  });

  it("protects a route served by node:http, verifying against certauth's JWKS over HTTPS", async () => {
    const accessToken = await token();
    const ok = await fetch(`${base}/protected`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ runtime: "node", identityId: decodeJwt(accessToken).sub });
    expect((await fetch(`${base}/protected`)).status).toBe(401);
    expect((await fetch(`${base}/protected`, { headers: { authorization: `Bearer ${accessToken}x` } })).status).toBe(401);
  });

  it("refuses a revoked token through introspection", async () => {
    const accessToken = await token();
    await svc.call(REVOKE, { body: { accessToken } });
    expect((await fetch(`${base}/protected`, { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(401);
  });
});
