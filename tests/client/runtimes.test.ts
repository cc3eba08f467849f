/**
 * certauth/client on Bun, Node (tsx) and Deno: tests/client/fixtures/scenario.ts runs under each, against one real
 * server, each runtime as its own identity and with its own certificate files; the server's audit log says which
 * certificate each login presented.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";
import { RUNTIMES, type Runtime } from "../helpers/processes.ts";
import { fingerprintOf, provisioner, ROOT, startCertauth, writeCredentials, type Certauth } from "./support.ts";

const SCENARIO = join(import.meta.dir, "fixtures/scenario.ts");

const COMMANDS: Record<Runtime, string[]> = {
  bun: [process.execPath],
  node: ["node", "--import", "tsx"],
  deno: [join(ROOT, "node_modules/deno/deno"), "run", "--no-prompt", "--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-sys"],
};

let server: Certauth;
let dir: string;
const results = new Map<Runtime, { identityId: string; first: string; next: string; output: any; log: string }>();

function run(argv: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.stderr.on("data", (c: Buffer) => (err += c));
    child.on("error", (e) => done({ code: null, out, err: `${err}\n${e.message}` }));
    child.on("close", (code) => done({ code, out, err }));
  });
}

beforeAll(async () => {
  server = await startCertauth();
  const make = await provisioner(server);
  dir = mkdtempSync(join(tmpdir(), "certauth-client-runtimes-"));
  const stranger = await makeLeaf({ issuer: await makeCa({ subject: "CN=Stranger" }), cn: "stranger" });
  await Promise.all(
    RUNTIMES.map(async (runtime) => {
      const identityId = await make.identity(`on-${runtime}`, { accessTokenTTL: 3, accessTokenMaxTTL: 3600 });
      const [first, next] = [await make.leaf(`svc-${runtime}`), await make.leaf(`svc-${runtime}`)];
      const certFile = join(dir, `${runtime}.crt`);
      const keyFile = join(dir, `${runtime}.key`);
      writeCredentials(first, certFile, keyFile);
      const input = join(dir, `${runtime}.json`);
      writeFileSync(
        input,
        JSON.stringify({
          url: server.url,
          caFile: server.caFile,
          certFile,
          keyFile,
          identityId,
          next: { cert: next.pem, key: next.keyPem, fingerprint: fingerprintOf(next) },
          stranger: { cert: stranger.pem, key: stranger.keyPem },
        }),
      );
      const result = await run([...COMMANDS[runtime], SCENARIO, input]);
      let output: unknown;
      try {
        output = JSON.parse(result.out.trim().split("\n").at(-1) ?? "");
      } catch {
        output = undefined;
      }
      results.set(runtime, { identityId, first: fingerprintOf(first), next: fingerprintOf(next), output, log: `exit ${result.code}\n${result.out}\n${result.err}` });
    }),
  );
}, 120_000);

afterAll(async () => {
  await server?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe.each([...RUNTIMES])("certauth/client on %s", (runtime) => {
  const outcome = () => {
    const r = results.get(runtime)!;
    if (!r.output) throw new Error(`the scenario did not finish on ${runtime}:\n${r.log}`);
    return r;
  };

  it("logs in and answers the login route's shape", async () => {
    const { output } = outcome();
    expect(output.login).toMatchObject({ tokenType: "Bearer", expiresIn: 3, accessTokenMaxTTL: 3600 });
    const introspected = await server.admin("/api/v1/auth/token/introspect", { body: { token: output.rotated.token } });
    expect(introspected.json.active).toBe(true);
  });

  it("throws a typed error with the status, error and x-certauth-reason of a refusal", () => {
    expect(outcome().output.refusal).toEqual({ thrown: true, typed: true, code: "ERR_CERTAUTH_STATUS", status: 401, error: "UnauthorizedError", reason: "ca_verification_failed", hasMessage: true });
  });

  it("tokenSource: concurrent calls share one login, then the token is renewed", () => {
    const { output } = outcome();
    expect(output.concurrent).toEqual({ distinct: 1, logins: 1 });
    expect(output.renewed).toBe(true);
  });

  it("after the certificate files are replaced, logs in with the new certificate: the server audits its fingerprint", async () => {
    const { output, identityId, first, next } = outcome();
    expect(output.rotated.differs).toBe(true);
    const logins = (await server.admin(`/api/v1/audit-logs?identityId=${identityId}&eventType=login-identity-tls-cert-auth&limit=50`)).json.auditLogs;
    // Newest first: the rotated certificate's login, and the first certificate's before it.
    expect(logins[0].certificateFingerprint).toBe(next);
    expect(logins.slice(1).every((e: { certificateFingerprint: string }) => e.certificateFingerprint === first)).toBe(true);
    expect(logins.length).toBeGreaterThanOrEqual(3);
    expect(output.events.filter((e: { type: string; via?: string }) => e.type === "token" && e.via === "login").map((e: { fingerprint: string }) => e.fingerprint)).toEqual([first, next]);
  });
});
