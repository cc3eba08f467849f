/**
 * certauth/client in this process (Bun) against a real server, and against servers that misbehave (node:https and
 * node:net here): the typed errors, what it refuses to take from a server, and that a failing server is never
 * asked in a tight loop.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createServer as createNetServer, type Server as NetServer } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CertauthConnectionError,
  CertauthCredentialsError,
  CertauthProtocolError,
  CertauthStatusError,
  login,
  tokenSource,
  type ClientEvent,
} from "../../src/client/index.ts";
import { MAX_ANSWER_BYTES } from "../../src/client/transport.ts";
import { fakeServer, provisioner, startCertauth, writeCredentials, type Certauth } from "./support.ts";

let server: Certauth;
let make: Awaited<ReturnType<typeof provisioner>>;
let ca: string;
let leaf: Awaited<ReturnType<Awaited<ReturnType<typeof provisioner>>["leaf"]>>;

beforeAll(async () => {
  server = await startCertauth();
  make = await provisioner(server);
  ca = readFileSync(server.caFile, "utf8");
  leaf = await make.leaf("svc-library");
}, 60_000);

afterAll(() => server?.dispose());

const credentials = () => ({ cert: leaf.pem, key: leaf.keyPem, ca });

describe("login", () => {
  it("answers the login answer, and a refusal is a CertauthStatusError with the status, error, message and reason", async () => {
    const identityId = await make.identity("library-login", { accessTokenTTL: 60, accessTokenMaxTTL: 60 });
    const answer = await login({ url: server.url, identityId, ...credentials() });
    expect(answer).toMatchObject({ expiresIn: 60, accessTokenMaxTTL: 60, tokenType: "Bearer" });
    expect((await server.admin("/api/v1/auth/token/introspect", { body: { token: answer.accessToken } })).json.active).toBe(true);

    const unknown = await login({ url: server.url, identityId: crypto.randomUUID(), ...credentials() }).catch((e) => e);
    expect(unknown).toBeInstanceOf(CertauthStatusError);
    expect(unknown).toMatchObject({ code: "ERR_CERTAUTH_STATUS", route: "login", status: 404, error: "NotFound", reason: undefined, transient: false });
    expect(unknown.requestId).toMatch(/\S/);

    // The slug is sent: one that names no organization is a 404.
    const slug = await login({ url: server.url, identityId, organizationSlug: "no-such-org", ...credentials() }).catch((e) => e);
    expect(slug).toMatchObject({ status: 404, error: "NotFound" });

    await server.admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, { method: "PATCH", body: { allowedCommonNames: "someone-else" } });
    const refused = await login({ url: server.url, identityId, ...credentials() }).catch((e) => e);
    expect(refused).toMatchObject({ status: 401, error: "UnauthorizedError", reason: "common_name_not_allowed" });
    expect(refused.message).toContain("common_name_not_allowed");
    expect(refused.serverMessage.length).toBeGreaterThan(0);
  });

  it("keeps a path prefix of the URL and drops its query", async () => {
    let seen = "";
    const fake = await fakeServer((res) => res.writeHead(404).end());
    fake.server.on("request", (req) => (seen = req.url ?? ""));
    await login({ url: `${fake.url}/certauth/?x=1`, identityId: "id", cert: leaf.pem, key: leaf.keyPem, ca: fake.ca }).catch(() => {});
    fake.server.close();
    expect(seen).toBe("/certauth/api/v1/auth/tls-cert-auth/login");
  });

  it("refuses a key that is not the certificate's before any request, with CertauthCredentialsError", async () => {
    const other = await make.leaf("svc-other");
    const err = await login({ url: server.url, identityId: "id", cert: leaf.pem, key: other.keyPem, ca }).catch((e) => e);
    expect(err).toBeInstanceOf(CertauthCredentialsError);
    const missing = await login({ url: server.url, identityId: "id", certFile: "/nonexistent/client.crt", key: leaf.keyPem, ca }).catch((e) => e);
    expect(missing).toBeInstanceOf(CertauthCredentialsError);
    expect(missing.message).toContain("ENOENT");
  });

  it("treats mistakes in the options as TypeErrors", async () => {
    const base = { identityId: "id", cert: leaf.pem, key: leaf.keyPem };
    await expect(login({ ...base, url: "http://127.0.0.1:1" })).rejects.toThrow(TypeError);
    await expect(login({ ...base, url: "not a url" })).rejects.toThrow(TypeError);
    await expect(login({ ...base, url: server.url, certFile: "/x" })).rejects.toThrow("cert or certFile, not both");
    await expect(login({ url: server.url, identityId: "id", cert: leaf.pem })).rejects.toThrow("key or keyFile is required");
  });

  it("does not trust a server certificate outside its CA: CertauthConnectionError", async () => {
    const err = await login({ url: server.url, identityId: "id", cert: leaf.pem, key: leaf.keyPem }).catch((e) => e);
    expect(err).toBeInstanceOf(CertauthConnectionError);
  });
});

describe("what the client takes from a server", () => {
  it(`reads at most ${MAX_ANSWER_BYTES} bytes of an answer`, async () => {
    const fake = await fakeServer((res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(`{"accessToken":"${"a".repeat(4 * MAX_ANSWER_BYTES)}"}`);
    });
    const err = await login({ url: fake.url, identityId: "id", cert: leaf.pem, key: leaf.keyPem, ca: fake.ca }).catch((e) => e);
    fake.server.close();
    expect(err).toBeInstanceOf(CertauthProtocolError);
    expect(err.message).toContain(`over ${MAX_ANSWER_BYTES} bytes`);
  });

  it.each([
    ["not JSON", "<html>hello</html>"],
    ["no token", JSON.stringify({ expiresIn: 3, accessTokenMaxTTL: 3, tokenType: "Bearer" })],
    ["a token that is not a bearer token", JSON.stringify({ accessToken: "a b\nX-Injected: 1", expiresIn: 3, accessTokenMaxTTL: 3, tokenType: "Bearer" })],
    ["a token type with a space", JSON.stringify({ accessToken: "abc", expiresIn: 3, accessTokenMaxTTL: 3, tokenType: "Bearer x" })],
  ])("refuses a 200 answer with %s: CertauthProtocolError", async (_, body) => {
    const fake = await fakeServer((res) => res.writeHead(200, { "content-type": "application/json" }).end(body));
    const err = await login({ url: fake.url, identityId: "id", cert: leaf.pem, key: leaf.keyPem, ca: fake.ca }).catch((e) => e);
    fake.server.close();
    expect(err).toBeInstanceOf(CertauthProtocolError);
  });

  it("gives up on a server that does not answer within timeoutMs", async () => {
    const fake = await fakeServer(() => {});
    const err = await login({ url: fake.url, identityId: "id", cert: leaf.pem, key: leaf.keyPem, ca: fake.ca, timeoutMs: 300 }).catch((e) => e);
    fake.server.closeAllConnections();
    fake.server.close();
    expect(err).toBeInstanceOf(CertauthConnectionError);
    expect(err.message).toContain("within 300 ms");
  });
});

describe("tokenSource", () => {
  it("asks a failing server again only after the back-off, however often token() is called", async () => {
    let connections = 0;
    const tcp: NetServer = createNetServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((done) => tcp.listen(0, "127.0.0.1", done));
    const { port } = tcp.address() as { port: number };
    const source = tokenSource({ url: `https://127.0.0.1:${port}`, identityId: "id", cert: leaf.pem, key: leaf.keyPem, ca });
    const errors = [];
    for (let i = 0; i < 200; i++) errors.push(await source.token().catch((e) => e));
    source.close();
    tcp.close();
    expect(errors.every((e) => e instanceof CertauthConnectionError)).toBe(true);
    // 200 calls in a tight loop: the first made a request, the others waited out the back-off (at least half a second).
    expect(connections).toBeLessThanOrEqual(2);
  });

  it("logs in again when a renewal is refused because the token was revoked", async () => {
    const identityId = await make.identity("library-revoked", { accessTokenTTL: 3, accessTokenMaxTTL: 3600 });
    const events: ClientEvent[] = [];
    const source = tokenSource({ url: server.url, identityId, ...credentials(), onEvent: (e) => events.push(e) });
    const first = await source.token();
    expect((await server.admin("/api/v1/auth/token/revoke", { body: { accessToken: first } })).status).toBe(200);
    const deadline = Date.now() + 45_000;
    let token = first;
    const logins = () => events.filter((e) => e.type === "token" && e.via === "login").length;
    while (token === first || logins() < 2) {
      if (Date.now() > deadline) throw new Error(`no login after the revocation: ${JSON.stringify(events)}`);
      await Bun.sleep(100);
      token = await source.token();
    }
    source.close();
    expect(events.find((e) => e.type === "renew_refused")).toMatchObject({ status: 401, reason: "token_revoked" });
    expect((await server.admin("/api/v1/auth/token/introspect", { body: { token } })).json.active).toBe(true);
    await expect(source.token()).rejects.toThrow("closed");
  });

  it("goes on renewing with the pair it has while the files hold a certificate without its key", async () => {
    const identityId = await make.identity("library-half-rotated", { accessTokenTTL: 3, accessTokenMaxTTL: 3600 });
    const dir = mkdtempSync(join(tmpdir(), "certauth-client-half-"));
    const [certFile, keyFile] = [join(dir, "client.crt"), join(dir, "client.key")];
    writeCredentials(leaf, certFile, keyFile);
    const events: ClientEvent[] = [];
    const source = tokenSource({ url: server.url, identityId, certFile, keyFile, ca, onEvent: (e) => events.push(e) });
    try {
      const first = await source.token();
      writeFileSync(certFile, (await make.leaf("svc-library")).pem);
      const deadline = Date.now() + 45_000;
      let token = first;
      while (token === first || !events.some((e) => e.type === "credentials_rejected")) {
        if (Date.now() > deadline) throw new Error(`no new token beside the half-rotated files: ${JSON.stringify(events)}`);
        await Bun.sleep(100);
        token = await source.token();
      }
      expect((await server.admin("/api/v1/auth/token/introspect", { body: { token } })).json.active).toBe(true);
      expect(events.filter((e) => e.type === "credentials_loaded")).toHaveLength(1);
    } finally {
      source.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
