import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { makeLeaf } from "../fixtures/pki.ts";
import { opsWorld, type OpsWorld } from "./support.ts";

const METRICS_TOKEN = "metrics-token-0123456789";

let world: OpsWorld;
beforeAll(async () => {
  world = await opsWorld({ METRICS_TOKEN });
}, 60_000);
afterAll(() => world?.close());

async function scrape(): Promise<string> {
  const response = await world.request("/metrics", { bearer: METRICS_TOKEN });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  return response.text();
}

/** The value of one sample line, e.g. `certauth_logins_total{result="success",reason="ok"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const login = (cert?: Uint8Array | null, identityId = world.identityId) =>
  world.request("/api/v1/auth/tls-cert-auth/login", { method: "POST", json: { identityId }, cert });

describe("GET /metrics", () => {
  it("is refused without the METRICS_TOKEN, in the seed's error shape", async () => {
    for (const bearer of [undefined, "wrong-token-0123456789"]) {
      const response = await world.request("/metrics", { bearer });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ statusCode: 401, error: "UnauthorizedError" });
    }
  });

  it("counts logins by result and reason code, and times them in a histogram", async () => {
    const stranger = await makeLeaf({ issuer: world.ca, cn: "someone-else" });
    expect((await login()).status).toBe(200);
    expect((await login()).status).toBe(200);
    expect((await login(stranger.der)).status).toBe(401);
    expect((await login(null)).status).toBe(400);
    expect((await login(undefined, "00000000-0000-4000-8000-000000000000")).status).toBe(404);
    expect((await world.request("/api/v1/auth/tls-cert-auth/login", { method: "POST", json: { identityId: "x", extra: 1 } })).status).toBe(422);

    const text = await scrape();
    expect(sample(text, 'certauth_logins_total{result="success",reason="ok"}')).toBe(2);
    expect(sample(text, 'certauth_logins_total{result="failure",reason="common_name_not_allowed"}')).toBe(1);
    expect(sample(text, 'certauth_logins_total{result="failure",reason="bad_request"}')).toBe(1);
    expect(sample(text, 'certauth_logins_total{result="failure",reason="not_found"}')).toBe(1);
    expect(sample(text, 'certauth_logins_total{result="failure",reason="validation_failure"}')).toBe(1);
    expect(sample(text, "certauth_tokens_issued_total")).toBe(2);
    expect(sample(text, "certauth_login_duration_seconds_count")).toBe(6);
    expect(sample(text, 'certauth_login_duration_seconds_bucket{le="+Inf"}')).toBe(6);
    expect(sample(text, "certauth_login_duration_seconds_sum")).toBeGreaterThan(0);
    expect(text).toContain("# TYPE certauth_login_duration_seconds histogram");
  });

  it("counts renewed and revoked tokens, and refused token uses by reason", async () => {
    const { accessToken } = (await (await login()).json()) as { accessToken: string };
    expect((await world.request("/api/v1/auth/token/renew", { method: "POST", json: { accessToken } })).status).toBe(200);
    // The use limit is 2: the third use is refused with uses_exhausted.
    for (const expected of [200, 200, 401]) {
      expect((await world.request("/api/v1/auth/token/self", { bearer: accessToken })).status).toBe(expected);
    }
    const { accessToken: second } = (await (await login()).json()) as { accessToken: string };
    expect((await world.request("/api/v1/auth/token/revoke", { method: "POST", json: { accessToken: second } })).status).toBe(200);
    const refused = await world.request("/api/v1/auth/token/self", { bearer: second });
    expect(refused.headers.get("x-certauth-reason")).toBe("token_revoked");

    const text = await scrape();
    expect(sample(text, "certauth_tokens_renewed_total")).toBe(1);
    expect(sample(text, "certauth_tokens_revoked_total")).toBe(1);
    expect(sample(text, 'certauth_token_uses_refused_total{reason="uses_exhausted"}')).toBe(1);
    expect(sample(text, 'certauth_token_uses_refused_total{reason="token_revoked"}')).toBe(1);
  });

  it("reports the database as up, with its driver, and the process memory", async () => {
    const text = await scrape();
    expect(sample(text, 'certauth_database_up{driver="pglite"}')).toBe(1);
    expect(sample(text, "certauth_process_resident_memory_bytes")).toBeGreaterThan(1_000_000);
    expect(sample(text, "certauth_process_heap_used_bytes")).toBeGreaterThan(0);
    expect(text).toMatch(/^certauth_build_info\{version="\d+\.\d+\.\d+"\} 1$/m);
  });

  it("writes valid exposition lines: HELP and TYPE before each family, numeric values", async () => {
    const text = await scrape();
    expect(text.endsWith("\n")).toBe(true);
    for (const line of text.trimEnd().split("\n")) {
      expect(line).toMatch(/^(# (HELP|TYPE) certauth_\w+ .+|certauth_\w+(\{(\w+="[^"\\\n]*",?)+\})? -?[\d.e+-]+)$/);
    }
  });
});
