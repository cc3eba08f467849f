import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createLogger } from "../../src/log.ts";
import { ADMIN_TOKEN, opsWorld, type OpsWorld } from "./support.ts";

let world: OpsWorld;
beforeAll(async () => {
  world = await opsWorld();
}, 60_000);
afterAll(() => world?.close());

describe("request logs", () => {
  it("write one JSON line per request with reqId, route, status, duration, identityId and reason code", async () => {
    world.logs.length = 0;
    const ok = await world.request("/api/v1/auth/tls-cert-auth/login", { method: "POST", json: { identityId: world.identityId } });
    const missing = await world.request("/api/v1/identities/00000000-0000-4000-8000-000000000000", { admin: true });
    expect(world.logs).toHaveLength(2);
    const [first, second] = world.logs.map((line) => JSON.parse(line));
    expect(first).toMatchObject({
      level: "info",
      msg: "request",
      reqId: ok.headers.get("x-request-id"),
      method: "POST",
      route: "/api/v1/auth/tls-cert-auth/login",
      status: 200,
      identityId: world.identityId,
      clientIp: "127.0.0.1",
    });
    expect(typeof first.durationMs).toBe("number");
    expect(second).toMatchObject({ status: 404, route: "/api/v1/identities/:identityId", reqId: missing.headers.get("x-request-id") });
  });

  it("hold no token, private key, certificate or admin token over a full login run", async () => {
    world.logs.length = 0;
    const { accessToken } = (await (
      await world.request("/api/v1/auth/tls-cert-auth/login", { method: "POST", json: { identityId: world.identityId } })
    ).json()) as { accessToken: string };
    await world.request("/api/v1/auth/token/self", { bearer: accessToken });
    await world.request("/api/v1/auth/token/renew", { method: "POST", json: { accessToken } });
    await world.request("/api/v1/auth/token/introspect", { method: "POST", admin: true, json: { token: accessToken } });
    await world.request(`/api/v1/auth/tls-cert-auth/identities/${world.identityId}`, { admin: true });
    await world.request(`/api/v1/auth/tls-cert-auth/identities/${world.identityId}`, {
      method: "PATCH",
      admin: true,
      json: { caCertificate: `${world.ca.pem}\n${world.leaf.keyPem}` },
    });
    await world.request("/api/v1/auth/token/revoke", { method: "POST", json: { accessToken } });
    await world.request("/api/v1/auth/token/self", { bearer: accessToken });
    await world.request("/api/v1/auth/token/self", { bearer: `${accessToken}x` });
    await world.request("/api/v1/identities", { admin: true, method: "POST", json: { name: accessToken, organizationId: "nope" } });
    await world.request("/metrics");
    expect(world.logs.length).toBeGreaterThanOrEqual(10);
    const all = world.logs.join("\n");
    expect(all).not.toContain("eyJ");
    expect(all).not.toContain("PRIVATE KEY");
    expect(all).not.toContain("BEGIN CERTIFICATE");
    expect(all).not.toContain(ADMIN_TOKEN);
    for (const line of world.logs) expect(() => JSON.parse(line)).not.toThrow();
  });

  it("follow LOG_LEVEL and redact secrets passed by mistake", () => {
    const lines: string[] = [];
    const log = createLogger("warn", (line) => lines.push(line), "json");
    log.info("hidden");
    log.warn("shown", { header: "Bearer abc.def", pem: "-----BEGIN PRIVATE KEY-----\nMII", jwt: "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.sig", ok: "fine" });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn", msg: "shown", header: "[redacted]", pem: "[redacted]", jwt: "[redacted]", ok: "fine" });
    const silent: string[] = [];
    createLogger("silent", (line) => silent.push(line), "json").error("nothing");
    expect(silent).toHaveLength(0);
  });

  it("are one short human line on a terminal", () => {
    const lines: string[] = [];
    createLogger("info", (line) => lines.push(line), "pretty").info("request", {
      reqId: "r1", method: "POST", path: "/api/v1/auth/tls-cert-auth/login", status: 401, durationMs: 3.2, reasonCode: "certificate_expired",
    });
    expect(lines[0]).toContain("POST /api/v1/auth/tls-cert-auth/login 401 3.2ms");
    expect(lines[0]).toContain("reasonCode=certificate_expired");
    expect(lines[0]).not.toStartWith("{");
  });
});

describe("the default stdout writer", () => {
  it("batches lines but writes every one, in order, also when the process exits at once", async () => {
    const script = [
      `import { createLogger } from ${JSON.stringify(`${import.meta.dir}/../../src/log.ts`)};`,
      `const log = createLogger("info", undefined, "json");`,
      `for (let i = 0; i < 300; i++) log.info("line", { i });`,
      `log.info("last before exit");`,
      `process.exit(3);`,
    ].join("\n");
    const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    expect(code).toBe(3);
    const lines = out.trim().split("\n").map((line) => JSON.parse(line));
    expect(lines.map((l) => l.i ?? l.msg)).toEqual([...Array.from({ length: 300 }, (_, i) => i), "last before exit"]);
  });

  it("writes a warning at once, after the info lines before it", async () => {
    const script = [
      `import { createLogger } from ${JSON.stringify(`${import.meta.dir}/../../src/log.ts`)};`,
      `const log = createLogger("info", undefined, "json");`,
      `log.info("first"); log.warn("second");`,
      `console.log("after");`,
      `await new Promise((r) => setTimeout(r, 5));`,
    ].join("\n");
    const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe" });
    const out = await new Response(child.stdout).text();
    expect(out.trim().split("\n")).toEqual([expect.stringContaining('"first"'), expect.stringContaining('"second"'), "after"]);
  });
});
