/**
 * Secrets: a full flow against the service as its own process at LOG_LEVEL=debug, then a grep of everything it
 * wrote and of every error body for tokens, keys, ADMIN_TOKEN, AUTH_SECRET and KEY_ENCRYPTION_KEY. Files in
 * DATA_DIR that hold secrets are 0600. The admin token is compared through fixed-length digests.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { matchesHash, sha256 } from "../../src/admin/auth.ts";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";
import type { CallResult } from "../helpers/https.ts";
import { ADMIN_TOKEN } from "../helpers/service.ts";
import { INTROSPECT, LOGIN, RENEW, REVOKE, SELF } from "./support.ts";
import { startBunService, stopBunService, type BunService } from "./process.ts";

const root = await makeCa({ subject: "CN=Secrets Root" });
const leaf = await makeLeaf({ issuer: root, cn: "svc-secret" });
const stranger = await makeLeaf({ issuer: await makeCa({ subject: "CN=Other" }), cn: "svc-secret" });
const AUTH_SECRET = "reliability-auth-secret-must-never-be-logged-0123";
const KEK = "reliability-kek-must-never-be-logged-0123456789";

const dirs: string[] = [];
const started: BunService[] = [];
afterAll(async () => {
  for (const svc of started) await stopBunService(svc).catch(() => {});
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}, 30_000);

/** The base64 body of a PEM (what would leak if a key were logged), in 40-character pieces. */
function pemPieces(pem: string): string[] {
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const pieces: string[] = [];
  for (let i = 0; i + 40 <= body.length; i += 40) pieces.push(body.slice(i, i + 40));
  return pieces;
}

/** Logs in, fails, uses, renews, introspects, revokes and forges; returns every token seen and every answer. */
async function fullFlow(svc: BunService, adminToken: string) {
  const answers: CallResult[] = [];
  const tokens: string[] = [];
  const admin = async (path: string, options: Parameters<BunService["call"]>[1] = {}) => {
    const res = await svc.call(path, { ...options, headers: { authorization: `Bearer ${adminToken}`, ...(options.headers ?? {}) } });
    answers.push(res);
    return res;
  };
  const call = async (path: string, options: Parameters<BunService["call"]>[1] = {}) => {
    const res = await svc.call(path, options);
    answers.push(res);
    return res;
  };
  const org = (await admin("/api/v1/organizations", { body: { name: "S", slug: "s" } })).json.organization.id;
  const identityId = (await admin("/api/v1/identities", { body: { name: "s", organizationId: org, role: "admin" } })).json.identity.id;
  expect((await admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, { body: { caCertificate: root.pem, accessTokenTTL: 60, accessTokenMaxTTL: 600 } })).status).toBe(200);
  const login = await call(LOGIN, { body: { identityId }, cert: leaf.pem, key: leaf.keyPem });
  expect(login.status).toBe(200);
  const token = login.json.accessToken as string;
  tokens.push(token);
  expect((await call(LOGIN, { body: { identityId }, cert: stranger.pem, key: stranger.keyPem })).status).toBe(401);
  expect((await call(SELF, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  const renewed = await call(RENEW, { body: { accessToken: token } });
  expect(renewed.status).toBe(200);
  tokens.push(renewed.json.accessToken);
  expect((await admin(INTROSPECT, { body: { token } })).status).toBe(200);
  expect((await call(`/api/v1/organizations/${org}`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  expect((await call(REVOKE, { body: { accessToken: token } })).status).toBe(200);
  expect((await call(SELF, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  expect((await call(RENEW, { body: { accessToken: renewed.json.accessToken } })).status).toBe(401);
  const [h, p] = token.split(".");
  expect((await call(SELF, { headers: { authorization: `Bearer ${h}.${p}.AAAA` } })).status).toBe(401);
  expect((await call("/api/v1/organizations", { headers: { authorization: `Bearer ${adminToken}x` } })).status).toBe(401);
  expect((await call("/api/v1/organizations", { headers: { authorization: `Bearer ${token}` }, body: { name: "x", slug: "x" } })).status).toBe(401);
  expect((await admin("/api/v1/organizations", { body: { name: "x", slug: "x", secret: adminToken } })).status).toBe(422);
  expect((await admin(INTROSPECT, { body: { token: `${token}garbage` } })).status).toBe(200);
  expect((await call("/nowhere")).status).toBe(404);
  await call("/.well-known/jwks.json");
  return { answers, tokens };
}

function expectNoneIn(haystack: string, secrets: Record<string, string[]>) {
  const found: string[] = [];
  for (const [name, values] of Object.entries(secrets)) {
    for (const value of values) if (value && haystack.includes(value)) found.push(name);
  }
  expect([...new Set(found)]).toEqual([]);
}

describe("no secret in logs or error bodies", () => {
  it("a full HS256 flow with ADMIN_TOKEN, AUTH_SECRET and KEY_ENCRYPTION_KEY set logs none of them at debug level", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "certauth-secrets-"));
    dirs.push(dataDir);
    const svc = await startBunService({ DATA_DIR: dataDir, DATABASE_URL: "", LOG_LEVEL: "debug", TOKEN_SIGNING_ALG: "HS256", AUTH_SECRET, KEY_ENCRYPTION_KEY: KEK, ADMIN_TOKEN });
    started.push(svc);
    const { answers, tokens } = await fullFlow(svc, ADMIN_TOKEN);
    await stopBunService(svc);
    const output = svc.output();
    // The flow was logged: a line per request, with its request id.
    expect(output.split("\n").filter((l) => l.includes('"msg":"request"')).length).toBeGreaterThanOrEqual(answers.length);
    const secrets = {
      ADMIN_TOKEN: [ADMIN_TOKEN],
      AUTH_SECRET: [AUTH_SECRET],
      KEY_ENCRYPTION_KEY: [KEK],
      "access token": tokens.flatMap((t) => [t, t.split(".")[2]!]),
      "server key": pemPieces(readFileSync(join(dataDir, "server.key"), "utf8")),
      "client key": pemPieces(leaf.keyPem),
      "PEM private key": ["PRIVATE KEY"],
    };
    expectNoneIn(output, secrets);
    expectNoneIn(answers.filter((a) => a.status >= 400).map((a) => a.text).join("\n"), secrets);
    expect(statSync(join(dataDir, "server.key")).mode & 0o777).toBe(0o600);
  }, 120_000);

  it("with generated secrets: the admin token is printed once (to stderr, as the contract says), written 0600, and logged nowhere else", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "certauth-secrets-"));
    dirs.push(dataDir);
    const svc = await startBunService({ DATA_DIR: dataDir, DATABASE_URL: "", LOG_LEVEL: "debug", ADMIN_TOKEN: "" });
    started.push(svc);
    const adminToken = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
    const kek = readFileSync(join(dataDir, "key-encryption-key"), "utf8").trim();
    expect(adminToken.length).toBeGreaterThanOrEqual(32);
    const { answers, tokens } = await fullFlow(svc, adminToken);
    await stopBunService(svc);
    const output = svc.output();
    expect(output.split(adminToken).length - 1).toBe(1);
    const withoutReveal = output.replace(`generated an admin token (shown once, also written to ${join(dataDir, "admin-token")}):\n${adminToken}`, "");
    const secrets = {
      ADMIN_TOKEN: [adminToken],
      KEY_ENCRYPTION_KEY: [kek],
      "access token": tokens.flatMap((t) => [t, t.split(".")[2]!]),
      "server key": pemPieces(readFileSync(join(dataDir, "server.key"), "utf8")),
      "PEM private key": ["PRIVATE KEY"],
      "private JWK": ['"d":"'],
    };
    expectNoneIn(withoutReveal, secrets);
    expectNoneIn(answers.filter((a) => a.status >= 400).map((a) => a.text).join("\n"), secrets);
    // Every answer: no private JWK member, no key PEM (the JWKS publishes public keys only).
    expectNoneIn(answers.map((a) => a.text).join("\n"), { "private JWK": ['"d":"'], "PEM private key": ["PRIVATE KEY"], KEY_ENCRYPTION_KEY: [kek] });
    for (const file of ["admin-token", "key-encryption-key", "server.key"]) {
      expect([file, statSync(join(dataDir, file)).mode & 0o777]).toEqual([file, 0o600]);
    }
    expect(statSync(dataDir).mode & 0o077).toBe(0);
  }, 120_000);
});

describe("admin token comparison", () => {
  it("accepts only the exact token, through fixed-length SHA-256 digests compared without an early exit", async () => {
    const expected = await sha256(ADMIN_TOKEN);
    expect(await matchesHash(ADMIN_TOKEN, expected)).toBe(true);
    const near = [
      "",
      ADMIN_TOKEN.slice(0, -1),
      `${ADMIN_TOKEN.slice(0, -1)}${ADMIN_TOKEN.endsWith("p") ? "q" : "p"}`,
      `${ADMIN_TOKEN}x`,
      ` ${ADMIN_TOKEN}`,
      ADMIN_TOKEN.toUpperCase(),
      ADMIN_TOKEN.repeat(2),
      "x".repeat(100_000),
    ];
    for (const candidate of near) expect(await matchesHash(candidate, expected)).toBe(false);
    // A stored hash of another length never matches, whatever is presented.
    expect(await matchesHash(ADMIN_TOKEN, expected.slice(0, 16))).toBe(false);
  });
});
