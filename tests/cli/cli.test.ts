import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bootstrap } from "../../src/server/bootstrap.ts";
import { COMMANDS } from "../../src/cli/main.ts";
import { makeCa, makeCrl, makeLeaf, randomSerial, type Issued } from "../fixtures/pki.ts";
import { cli, cliJson } from "./support.ts";

const ADMIN_TOKEN = "cli-test-admin-token-0123456789abcdefghij";
const ROOT = resolve(import.meta.dir, "../..");
const BUN = join(ROOT, "node_modules/.bin/bun");

let dir: string;
let env: Record<string, string>;
let ca: Issued;
let leaf: Issued;
let caFile: string;
let bigCrlFile: string;
let bigCrlSize: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "certauth-cli-"));
  // The server's own configuration: embedded PGlite in DATA_DIR, as a self-hoster runs it.
  env = { DATA_DIR: join(dir, "data"), ADMIN_TOKEN, LOG_LEVEL: "silent" };
  ca = await makeCa({ subject: "CN=CLI Test CA" });
  leaf = await makeLeaf({ issuer: ca, cn: "svc-cli" });
  caFile = join(dir, "ca.pem");
  writeFileSync(caFile, ca.pem);
  const serials = Array.from({ length: 100_000 }, randomSerial);
  const crl = await makeCrl({ issuer: ca, revoked: serials });
  bigCrlFile = join(dir, "big.crl");
  writeFileSync(bigCrlFile, crl.pem);
  bigCrlSize = crl.pem.length;
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("certauth --help", () => {
  it("lists every command, and each command's --help shows its usage and options", async () => {
    const top = await cli(env, "--help");
    expect(top.code).toBe(0);
    for (const command of COMMANDS) {
      expect(top.out).toContain(command.path.join(" "));
      const help = await cli(env, ...command.path, "--help");
      expect(help.code).toBe(0);
      expect(help.out).toContain(`certauth ${command.path.join(" ")}`);
      expect(help.out).toContain("--json");
    }
    for (const name of ["serve", "migrate", "quickstart", "org create", "identity create", "tls-cert-auth attach", "tls-cert-auth get", "tls-cert-auth update", "tls-cert-auth revoke", "token introspect", "keys rotate", "audit"]) {
      expect(top.out).toContain(`  ${name}`);
    }
  });

  it("refuses an unknown command or option with one line and exit code 2", async () => {
    const unknown = await cli(env, "frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.err.trim().split("\n")).toHaveLength(1);
    const badOption = await cli(env, "org", "create", "--nope");
    expect(badOption.code).toBe(2);
    expect(badOption.err).toContain("--nope");
    expect(badOption.err.trim().split("\n")).toHaveLength(1);
  });
});

describe("certauth against the server's database", () => {
  let orgId: string;
  let identityId: string;

  it("migrates, creates an organization and an identity", async () => {
    expect((await cli(env, "migrate")).code).toBe(0);
    const { organization } = await cliJson(env, "org", "create", "--name", "Acme", "--slug", "acme");
    expect(organization).toMatchObject({ name: "Acme", slug: "acme", parentOrgId: null });
    orgId = organization.id;
    expect(organization.rootOrgId).toBe(orgId);
    const human = await cli(env, "identity", "create", "--name", "svc-cli", "--org", orgId);
    expect(human.code).toBe(0);
    expect(human.out).toContain("Created identity svc-cli");
    identityId = /^id\s+(\S+)$/m.exec(human.out)![1]!;
    expect(identityId).toMatch(/^[0-9a-f-]{36}$/);
  }, 60_000);

  it("validates like the admin API: one line, non-zero exit, never a stack trace", async () => {
    const badSlug = await cli(env, "org", "create", "--name", "X", "--slug", "Not A Slug");
    expect(badSlug.code).toBe(1);
    expect(badSlug.err).toMatch(/^certauth: slug: /);
    const badTtl = await cli(env, "tls-cert-auth", "attach", identityId, "--ca-file", caFile, "--ttl=-5");
    expect(badTtl.code).toBe(1);
    expect(badTtl.err).toContain("accessTokenTTL");
    const ttlOverMax = await cli(env, "tls-cert-auth", "attach", identityId, "--ca-file", caFile, "--ttl", "100", "--max-ttl", "10");
    expect(ttlOverMax.err.trim()).toBe("certauth: accessTokenTTL cannot be greater than accessTokenMaxTTL.");
    const missingFile = await cli(env, "tls-cert-auth", "attach", identityId, "--ca-file", join(dir, "nope.pem"));
    expect(missingFile.err.trim()).toBe(`certauth: cannot read --ca-file ${join(dir, "nope.pem")}: ENOENT`);
    const noCa = await cli(env, "tls-cert-auth", "attach", identityId);
    expect(noCa.code).toBe(2);
    const notAttached = await cli(env, "tls-cert-auth", "get", identityId);
    expect(notAttached.err.trim()).toBe("certauth: TLS cert auth is not attached to this identity.");
    for (const result of [badSlug, badTtl, ttlOverMax, missingFile, noCa, notAttached]) {
      expect(result.err.trim().split("\n")).toHaveLength(1);
      expect(result.err).not.toContain("    at ");
    }
  }, 60_000);

  it(`attaches a CRL of 100,000 serials (several MB, over the API's 64 KiB) from a file`, async () => {
    expect(bigCrlSize).toBeGreaterThan(2_000_000);
    const attached = await cli(
      env, "tls-cert-auth", "attach", identityId, "--ca-file", caFile, "--crl-file", bigCrlFile,
      "--allowed-common-names", "svc-cli", "--trusted-ips", "127.0.0.1, ::1", "--ttl", "600", "--max-ttl", "3600",
    );
    expect(attached.err).toBe("");
    expect(attached.code).toBe(0);
    expect(attached.out).toContain("1 CRL(s)");
    expect(attached.out).not.toContain("BEGIN");
    const { identityTlsCertAuth } = await cliJson(env, "tls-cert-auth", "get", identityId);
    expect(identityTlsCertAuth.crls).toContain("-----BEGIN");
    expect(identityTlsCertAuth.crls.length).toBeGreaterThan(2_000_000);
    expect(identityTlsCertAuth).toMatchObject({ allowedCommonNames: "svc-cli", accessTokenTTL: 600, accessTokenMaxTTL: 3600 });
    expect(identityTlsCertAuth.accessTokenTrustedIps.map((ip: { ipAddress: string }) => ip.ipAddress)).toEqual(["127.0.0.1", "::1"]);
    const twice = await cli(env, "tls-cert-auth", "attach", identityId, "--ca-file", caFile);
    expect(twice.err.trim()).toBe("certauth: TLS cert auth is already attached to this identity.");
  }, 120_000);

  it("updates some settings and keeps the others; an empty list clears an allow-list", async () => {
    const { identityTlsCertAuth } = await cliJson(
      env, "tls-cert-auth", "update", identityId, "--no-crls", "--allowed-common-names", "", "--trusted-ips", "0.0.0.0/0,::/0",
    );
    expect(identityTlsCertAuth).toMatchObject({ crls: null, allowedCommonNames: null, accessTokenTTL: 600 });
    const nothing = await cli(env, "tls-cert-auth", "update", identityId);
    expect(nothing.code).toBe(2);
  }, 60_000);

  it("sets --required-extension, --token-audience and --claim-mapping (repeatable), shows them, and clears them", async () => {
    const { identityTlsCertAuth } = await cliJson(
      env, "tls-cert-auth", "update", identityId,
      "--required-extension", "1.3.6.1.4.1.55555.1:asset-*", "--token-audience", "sts.amazonaws.com", "--token-audience", "vault",
      "--claim-mapping", "spiffe_id=san.uri", "--claim-mapping", "asset=ext:1.3.6.1.4.1.55555.1",
    );
    expect(identityTlsCertAuth).toMatchObject({
      requiredExtensions: ["1.3.6.1.4.1.55555.1:asset-*"],
      tokenAudiences: ["sts.amazonaws.com", "vault"],
      claimMappings: { spiffe_id: "san.uri", asset: "ext:1.3.6.1.4.1.55555.1" },
    });
    const shown = await cli(env, "tls-cert-auth", "get", identityId);
    expect(shown.out).toMatch(/tokenAudiences\s+\["sts.amazonaws.com","vault"\]/);
    expect(shown.out).toContain('"spiffe_id":"san.uri"');
    const reserved = await cli(env, "tls-cert-auth", "update", identityId, "--claim-mapping", "sub=subject.CN");
    expect(reserved.code).toBe(1);
    expect(reserved.err).toContain('"sub"');
    expect((await cli(env, "tls-cert-auth", "update", identityId, "--claim-mapping", "no-equals-sign")).code).toBe(2);
    expect((await cli(env, "tls-cert-auth", "update", identityId, "--token-audience", "a", "--no-token-audiences")).code).toBe(2);
    const cleared = await cliJson(env, "tls-cert-auth", "update", identityId, "--no-required-extensions", "--no-token-audiences", "--no-claim-mappings");
    expect(cleared.identityTlsCertAuth).toMatchObject({ requiredExtensions: null, tokenAudiences: null, claimMappings: null });
  }, 60_000);

  it("updates --crl-url (repeatable): fetches each CRL now, and --no-crl-urls removes them", async () => {
    const crl = await makeCrl({ issuer: ca, revoked: [] });
    const requested: string[] = [];
    const server = createServer((req, res) => {
      requested.push(req.url ?? "");
      return req.url?.endsWith(".crl") ? res.writeHead(200).end(crl.der) : res.writeHead(404).end();
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const { identityTlsCertAuth } = await cliJson(env, "tls-cert-auth", "update", identityId, "--crl-url", `${base}/a.crl`, "--crl-url", `${base}/b.crl`);
      expect(identityTlsCertAuth.crlUrls).toEqual([`${base}/a.crl`, `${base}/b.crl`]);
      expect(identityTlsCertAuth.crlUrlStatus.map((s: { status: string }) => s.status)).toEqual(["ok", "ok"]);
      // URLs already stored keep their CRLs: only the new one is fetched.
      const grown = await cliJson(env, "tls-cert-auth", "update", identityId, "--crl-url", `${base}/b.crl`, "--crl-url", `${base}/c.crl`);
      expect(grown.identityTlsCertAuth.crlUrlStatus.map((s: { url: string }) => s.url)).toEqual([`${base}/b.crl`, `${base}/c.crl`]);
      expect(requested).toEqual(["/a.crl", "/b.crl", "/c.crl"]);
      const missing = await cli(env, "tls-cert-auth", "update", identityId, "--crl-url", `${base}/missing`);
      expect(missing.err.trim()).toBe(`certauth: The CRL at ${base}/missing could not be fetched: it answered HTTP 404.`);
      const removed = await cliJson(env, "tls-cert-auth", "update", identityId, "--no-crl-urls");
      expect(removed.identityTlsCertAuth).toMatchObject({ crlUrls: null, crlUrlStatus: [] });
    } finally {
      server.close();
    }
  }, 60_000);

  it("sets the OCSP fields and useCrlDistributionPoints with --ocsp… and --use-crl-distribution-points, and turns them off again", async () => {
    const { identityTlsCertAuth: on } = await cliJson(
      env, "tls-cert-auth", "update", identityId, "--ocsp", "--ocsp-server", "http://127.0.0.1:9/a", "--ocsp-server", "https://ocsp.example.com/",
      "--ocsp-fail-open", "--ocsp-query-all-servers", "--ocsp-max-retries", "2", "--ocsp-this-update-max-age", "3600", "--use-crl-distribution-points",
    );
    expect(on).toMatchObject({
      ocspEnabled: true,
      ocspServersOverride: ["http://127.0.0.1:9/a", "https://ocsp.example.com/"],
      ocspFailOpen: true,
      ocspQueryAllServers: true,
      ocspMaxRetries: 2,
      ocspThisUpdateMaxAge: 3600,
      useCrlDistributionPoints: true,
    });
    const human = await cli(env, "tls-cert-auth", "get", identityId);
    expect(human.out).toContain("ocspServersOverride");
    const { identityTlsCertAuth: off } = await cliJson(
      env, "tls-cert-auth", "update", identityId, "--no-ocsp", "--no-ocsp-servers", "--no-ocsp-fail-open", "--no-ocsp-query-all-servers", "--no-crl-distribution-points",
    );
    expect(off).toMatchObject({ ocspEnabled: false, ocspServersOverride: null, ocspFailOpen: false, ocspQueryAllServers: false, ocspMaxRetries: 2, useCrlDistributionPoints: false });
    const tooMany = await cli(env, "tls-cert-auth", "update", identityId, "--ocsp-max-retries", "11");
    expect(tooMany.code).not.toBe(0);
    expect(tooMany.err).toContain("ocspMaxRetries");
    const notNumber = await cli(env, "tls-cert-auth", "update", identityId, "--ocsp-this-update-max-age", "soon");
    expect(notNumber.err).toContain("ocspThisUpdateMaxAge");
    const contradiction = await cli(env, "tls-cert-auth", "update", identityId, "--ocsp", "--no-ocsp");
    expect(contradiction.code).toBe(2);
    const ftp = await cli(env, "tls-cert-auth", "update", identityId, "--ocsp-server", "ftp://127.0.0.1/");
    expect(ftp.err).toContain("ocspServersOverride");
  }, 60_000);

  let accessToken: string;
  it("introspects a token from a real login; rotates keys; lists the audit events", async () => {
    // The service on the same DATA_DIR, after the CLI has closed it (embedded PGlite is single-process).
    const service = await bootstrap(env, () => {});
    try {
      const response = await service.app.fetch(
        new Request("https://localhost/api/v1/auth/tls-cert-auth/login", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ identityId }),
        }),
        { peer: { remoteAddress: "127.0.0.1", certificateChain: [leaf.der] } },
      );
      expect(response.status).toBe(200);
      accessToken = ((await response.json()) as { accessToken: string }).accessToken;
    } finally {
      await service.database.close();
    }
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, `${accessToken}\n`, { mode: 0o600 });
    const introspection = await cliJson(env, "token", "introspect", "--token-file", tokenFile);
    expect(introspection).toMatchObject({ active: true, identityId, orgId, authMethod: "tls-cert-auth", numUsesRemaining: null });
    const human = await cli(env, "token", "introspect", accessToken);
    expect(human.code).toBe(0);
    expect(human.out).toStartWith("active");

    const before = JSON.parse(Buffer.from(accessToken.split(".")[0]!, "base64url").toString()).kid;
    const rotated = await cliJson(env, "keys", "rotate");
    expect(rotated.kid).not.toBe(before);
    // The old key still verifies the token it signed.
    expect((await cliJson(env, "token", "introspect", accessToken)).active).toBe(true);

    const { auditLogs } = await cliJson(env, "audit", "--identity", identityId, "--event-type", "login-identity-tls-cert-auth", "--limit", "5");
    expect(auditLogs).toHaveLength(1);
    expect(auditLogs[0]).toMatchObject({ identityId, eventType: "login-identity-tls-cert-auth", clientIp: "127.0.0.1" });
    const text = await cli(env, "audit", "--limit", "3");
    expect(text.out).toContain("login-identity-tls-cert-auth");
    expect((await cli(env, "audit", "--limit", "0")).code).toBe(1);
  }, 120_000);

  it("revokes TLS cert auth: the identity's tokens are inactive at once (introspect exits 3)", async () => {
    const revoked = await cli(env, "tls-cert-auth", "revoke", identityId);
    expect(revoked.code).toBe(0);
    const after = await cli(env, "token", "introspect", accessToken);
    expect(after.code).toBe(3);
    expect(after.out.trim()).toStartWith("inactive");
  }, 60_000);

  it("says in one line when the database cannot be reached", async () => {
    const result = await cli({ ...env, DATABASE_URL: "postgres://certauth@127.0.0.1:1/nothing" }, "migrate");
    expect(result.code).toBe(1);
    expect(result.err.trim().split("\n")).toHaveLength(1);
    expect(result.err).toStartWith("certauth: ");
    const badConfig = await cli({ ...env, TOKEN_SIGNING_ALG: "none" }, "keys", "rotate");
    expect(badConfig.err.trim()).toStartWith("certauth: invalid TOKEN_SIGNING_ALG");
  }, 30_000);
});

describe("certauth quickstart", () => {
  it("starts from an environment of its own: a deployment's configuration in the shell changes nothing", () => {
    const qs = join(dir, "quickstart");
    // What an operator's shell may well hold; every one of them would break or bend the throwaway setup.
    const shell = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      DATABASE_URL: "postgres://certauth@nowhere.invalid:5432/prod",
      TOKEN_SIGNING_ALG: "HS256",
      AUTH_SECRET: "a-production-hs256-secret-0123456789abcdef",
      KEY_ENCRYPTION_KEY: "a-production-key-encryption-key-0123456789",
      ADMIN_TOKEN: "a-production-admin-token-0123456789abcdef",
      ISSUER_URL: "https://certauth.prod.example",
      MAX_TOKEN_TTL: "1",
      CLIENT_CERT_SOURCE: "header",
      TLS_CLIENT_CA_FILE: join(dir, "no-such-ca.pem"),
      LOG_LEVEL: "not-a-level",
    };
    const result = spawnSync(BUN, ["src/cli/main.ts", "quickstart", "--exit", "--json", "--dir", qs], {
      cwd: ROOT,
      env: shell,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect({ status: result.status, stderr: result.stderr }).toMatchObject({ status: 0 });
    const answer = JSON.parse(result.stdout);
    expect(answer.token.header.alg).toBe("EdDSA");
    expect(answer.token.payload.iss).not.toBe(shell.ISSUER_URL);
    expect(answer.expiresIn).toBeGreaterThan(1);
    // Its own embedded database and keys, in its own folder, with its own generated admin token.
    expect(readdirSync(join(qs, "data")).sort()).toEqual(["admin-token", "key-encryption-key", "pgdata"]);
    expect(readFileSync(answer.adminTokenFile, "utf8")).not.toContain(shell.ADMIN_TOKEN);
  }, 150_000);
});
