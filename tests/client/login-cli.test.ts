/**
 * `certauth login` against a real server: the token, `--format json|env`, options from the environment (the
 * command line winning), the key from standard input, and a refusal's exit code and one line on stderr.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "../cli/support.ts";
import { fakeServer, provisioner, ROOT, startCertauth, writeCredentials, type Certauth } from "./support.ts";

let server: Certauth;
let dir: string;
let identityId: string;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startCertauth();
  const make = await provisioner(server);
  identityId = await make.identity("cli-login", { accessTokenTTL: 120, accessTokenMaxTTL: 600 });
  dir = mkdtempSync(join(tmpdir(), "certauth-login-"));
  writeCredentials(await make.leaf("svc-cli"), join(dir, "client.crt"), join(dir, "client.key"));
  env = {
    CERTAUTH_URL: server.url,
    CERTAUTH_CERT_FILE: join(dir, "client.crt"),
    CERTAUTH_KEY_FILE: join(dir, "client.key"),
    CERTAUTH_CA_FILE: server.caFile,
    CERTAUTH_IDENTITY_ID: identityId,
  };
}, 60_000);

afterAll(async () => {
  await server?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const active = async (token: string) => (await server.admin("/api/v1/auth/token/introspect", { body: { token } })).json.active;

describe("certauth login", () => {
  it("prints the token alone, from options given as environment variables", async () => {
    const result = await cli(env, "login");
    expect(result.code).toBe(0);
    const token = result.out.trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(await active(token)).toBe(true);
  });

  it("--format json prints the login answer; --format env prints KEY=value lines", async () => {
    const json = await cli(env, "login", "--format", "json");
    expect(JSON.parse(json.out)).toMatchObject({ expiresIn: 120, accessTokenMaxTTL: 600, tokenType: "Bearer", accessToken: expect.any(String) });
    const lines = (await cli(env, "login", "--format", "env")).out.trim().split("\n");
    expect(lines.map((l) => l.split("=")[0])).toEqual(["CERTAUTH_TOKEN", "CERTAUTH_TOKEN_TYPE", "CERTAUTH_TOKEN_EXPIRES_IN", "CERTAUTH_TOKEN_MAX_TTL"]);
    expect(lines.slice(1)).toEqual(["CERTAUTH_TOKEN_TYPE=Bearer", "CERTAUTH_TOKEN_EXPIRES_IN=120", "CERTAUTH_TOKEN_MAX_TTL=600"]);
    // As a shell reads it.
    const shell = spawnSync("/bin/sh", ["-c", `set -a; eval "$1"; printf %s "$CERTAUTH_TOKEN"`, "sh", lines.join("\n")], { encoding: "utf8" });
    expect(await active(shell.stdout)).toBe(true);
    expect((await cli(env, "login", "--format", "yaml")).code).toBe(2);
  });

  it("options on the command line win over the environment", async () => {
    const result = await cli({ ...env, CERTAUTH_IDENTITY_ID: crypto.randomUUID() }, "login", "--identity-id", identityId);
    expect(result.code).toBe(0);
    const wrong = await cli(env, "login", "--identity-id", crypto.randomUUID());
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain("404 NotFound");
  });

  it("exits 1 on a refusal, with the status, error, reason and the server's message on one line of stderr", async () => {
    await server.admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, { method: "PATCH", body: { allowedCommonNames: "nobody" } });
    try {
      const result = await cli(env, "login");
      expect(result.code).toBe(1);
      expect(result.out).toBe("");
      const line = result.err.trim();
      expect(line.split("\n")).toHaveLength(1);
      expect(line).toMatch(/^certauth: login refused: 401 UnauthorizedError \(common_name_not_allowed\): \S/);
    } finally {
      await server.admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, { method: "PATCH", body: { allowedCommonNames: null } });
    }
  });

  it.each([
    ["a proxy's HTML error page", 502, {}, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n", /^certauth: login refused: 502 HTTP 502: <html> <head><title>502 Bad Gateway<\/title>/],
    ["an error and a message that span lines", 401, { "x-certauth-reason": "chain_invalid" }, JSON.stringify({ error: "Unauthorized\nError", message: "first line\nsecond line" }), /^certauth: login refused: 401 Unauthorized Error \(chain_invalid\): first line second line$/],
  ])("keeps a refusal on one line of stderr, status, reason and message included, from %s", async (_, status, headers, body, expected) => {
    const broken = await fakeServer((res) => res.writeHead(status, headers).end(body));
    const caFile = join(dir, "broken-ca.pem");
    writeFileSync(caFile, broken.ca);
    try {
      const result = await cli({ ...env, CERTAUTH_URL: broken.url, CERTAUTH_CA_FILE: caFile }, "login");
      expect(result.code).toBe(1);
      const line = result.err.trim();
      expect(line.split("\n")).toHaveLength(1);
      expect(line).toMatch(expected);
    } finally {
      broken.server.close();
    }
  });

  it("reads the key from standard input with --key -", async () => {
    const { CERTAUTH_KEY_FILE, ...rest } = env;
    // Spawned, not spawnSync: the server answers from this process's event loop.
    const child = spawn(process.execPath, ["src/cli/main.ts", "login", "--key", "-"], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", ...rest } });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.stderr.on("data", (c: Buffer) => (err += c));
    child.stdin.end(readFileSync(CERTAUTH_KEY_FILE!, "utf8"));
    const code = await new Promise((done) => child.once("close", done));
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(await active(out.trim())).toBe(true);
  });

  it("says which option is missing, with a usage error", async () => {
    const { CERTAUTH_URL: _, ...rest } = env;
    const result = await cli(rest, "login");
    expect(result.code).toBe(2);
    expect(result.err).toContain("--url (or CERTAUTH_URL) is required");
    const http = await cli({ ...env, CERTAUTH_URL: "http://127.0.0.1:1" }, "login");
    expect(http.code).toBe(2);
    expect(http.err).toContain("must be https://");
  });
});
