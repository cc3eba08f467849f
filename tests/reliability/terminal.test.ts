/**
 * Control characters a client chose (in its certificate's subject, in a request) never reach an operator's
 * terminal raw: `certauth audit` and `certauth tls-cert-auth get`, in text and in JSON, and the log lines in
 * both formats show them escaped, and keep other Unicode as it is.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { opsWorld, type OpsWorld } from "../ops/support.ts";
import { LOGIN } from "./support.ts";

const ROOT = resolve(import.meta.dir, "../..");
const BUN = join(ROOT, "node_modules/.bin/bun");

/** An OSC that retitles the window and rings the bell, a clear-screen, a C1 CSI, DEL; then plain Unicode. */
const HOSTILE_CN = "svc\u001b]0;owned\u0007\u001b[2J\u009b31m\u007f-ünïcødé-名前";
const HOSTILE_O = "Acme\u2028Corp\r\nreason=forged";
/** The same as the subject's RFC 4514 text has them (`;` and CR escaped by the DN syntax itself). */
const SUBJECT_CN = "svc\u001b]0\\;owned\u0007\u001b[2J\u009b31m\u007f-ünïcødé-名前";
const SUBJECT_O = "Acme\u2028Corp\\0D\nreason=forged";

/** Any C0 control but the line feed, DEL, C1, or U+2028/2029. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

const root = await makeCa({ subject: "CN=Terminal Root" });
const hostile = await makeLeaf({ issuer: root, cn: HOSTILE_CN, o: HOSTILE_O });

describe("certauth audit and tls-cert-auth get, after a login with control characters in the subject", () => {
  let svc: RunningService;
  let identityId: string;
  let cliHome: string;

  beforeAll(async () => {
    svc = await startService("postgres", { LOGIN_RATE_LIMIT: "0" });
    cliHome = mkdtempSync(join(tmpdir(), "certauth-terminal-"));
    const org = (await svc.admin("/api/v1/organizations", { body: { name: "T", slug: "t" } })).json.organization.id;
    identityId = (await svc.admin("/api/v1/identities", { body: { name: "t", organizationId: org } })).json.identity.id;
    const attached = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, {
      body: { caCertificate: root.pem, allowedOrganizations: ["Acme\u001b[2J*", "Acme\u2028Corp*"] },
    });
    expect(attached.status).toBe(200);
    // Over real mutual TLS: one login that passes, one refused by the allow-list, both audited with the subject.
    expect((await svc.call(LOGIN, { body: { identityId }, cert: hostile.pem, key: hostile.keyPem })).status).toBe(200);
    const patched = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, { method: "PATCH", body: { allowedCommonNames: "svc-only" } });
    expect(patched.status).toBe(200);
    expect((await svc.call(LOGIN, { body: { identityId }, cert: hostile.pem, key: hostile.keyPem })).status).toBe(401);
  }, 60_000);
  afterAll(async () => {
    await svc?.stop();
    rmSync(cliHome, { recursive: true, force: true });
  });

  /** The real CLI, as an operator runs it against the server's database. */
  const certauth = (...argv: string[]) => {
    const result = spawnSync(BUN, ["src/cli/main.ts", ...argv], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: cliHome, DATA_DIR: join(cliHome, "data"), DATABASE_URL: svc.database.url },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: "" });
    return result.stdout;
  };

  it("prints audit events as text with the subject's control characters escaped and its Unicode kept", () => {
    const out = certauth("audit", "--identity", identityId);
    expect(out).not.toMatch(RAW_CONTROL);
    expect(out.trim().split("\n")).toHaveLength(2);
    // (Plain strings, not String.raw: Bun's transpiler rewrites non-ASCII in raw template text as \u escapes.)
    expect(out).toContain("svc\\x1b]0\\;owned\\x07\\x1b[2J\\x9b31m\\x7f-ünïcødé-名前");
    expect(out).toContain("Acme\\u2028Corp\\0D\\nreason=forged");
  }, 60_000);

  it("prints audit events as JSON that holds no raw control character and parses back to the exact subject", () => {
    const out = certauth("audit", "--identity", identityId, "--json");
    expect(out).not.toMatch(RAW_CONTROL);
    const { auditLogs } = JSON.parse(out) as { auditLogs: { certificateSubject: string; reasonCode: string | null }[] };
    expect(auditLogs.map((e) => e.reasonCode)).toEqual(["common_name_not_allowed", null]);
    for (const event of auditLogs) {
      expect(event.certificateSubject).toBe(`CN=${SUBJECT_CN}, O=${SUBJECT_O}`);
    }
  }, 60_000);

  it("prints a configuration's allow-lists, set through the admin API, escaped in text and in JSON", () => {
    const text = certauth("tls-cert-auth", "get", identityId);
    expect(text).not.toMatch(RAW_CONTROL);
    expect(text).toContain(String.raw`Acme\u001b[2J*`);
    const json = certauth("tls-cert-auth", "get", identityId, "--json");
    expect(json).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(json).identityTlsCertAuth.allowedOrganizations).toEqual(["Acme\u001b[2J*", "Acme\u2028Corp*"]);
  }, 60_000);
});

describe("log lines for a request whose path holds control characters", () => {
  const PATH = "/api/v1/identities/%1b%5d0owned%07%1b%5b2J%c2%9b31m%7f%e2%80%a8-%c3%bc";
  let pretty: OpsWorld;
  let json: OpsWorld;

  beforeAll(async () => {
    [pretty, json] = await Promise.all([opsWorld({}, "pretty"), opsWorld({}, "json")]);
  }, 60_000);
  afterAll(async () => {
    await pretty?.close();
    await json?.close();
  });

  it("escapes them in the terminal format, keeping only the level's own colour", async () => {
    pretty.logs.length = 0;
    await pretty.request(PATH, { admin: true });
    expect(pretty.logs).toHaveLength(1);
    const line = pretty.logs[0]!;
    // The level's colour and its reset are the line's only escape sequences.
    expect(line.replace(/\u001b\[\d+m(INFO )\u001b\[0m/, "$1")).not.toMatch(RAW_CONTROL);
    expect(line).toContain("\\x1b]0owned\\x07\\x1b[2J\\x9b31m\\x7f\\u2028-ü");
  });

  it("escapes DEL, C1 and U+2028/2029 in JSON lines too (JSON.stringify escapes only C0), which still parse to the path", async () => {
    json.logs.length = 0;
    await json.request(PATH, { admin: true });
    expect(json.logs).toHaveLength(1);
    expect(json.logs[0]).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(json.logs[0]!).path).toBe("/api/v1/identities/\u001b]0owned\u0007\u001b[2J\u009b31m\u007f\u2028-ü");
  });
});
