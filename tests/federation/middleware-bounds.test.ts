/**
 * certauth/middleware reads bounded answers from the issuer: a discovery document or JWKS past 1 MiB is refused
 * without being read whole, while real documents padded well past their usual size still work. An issuer whose
 * discovery or JWKS cannot be had (too big, broken, an error status, nobody listening) is answered 503 with
 * Retry-After, since the token may be valid; a token that fails verification against keys it did get is 401.
 * The issuer's documents are served over TLS at ISSUER_URL by a server of the test, the tokens come from a real
 * certauth.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Hono } from "hono";
import { certauthAuth, type CertauthEnv } from "certauth/middleware";
import { freePort } from "../helpers/ports.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { identityWith, trustingFetch, workload } from "./world.ts";

const CHUNK = 64 * 1024;

/** What the publisher adds after each document, as JSON whitespace, and how many bytes it streamed. */
const padding = { discovery: 0, jwks: 0 };
const streamed = { discovery: 0, jwks: 0 };
/** An answer the publisher gives instead of a document, when set. */
const broken: { discovery?: () => Response; jwks?: () => Response } = {};

/** `document` then `pad` bytes of spaces, produced only as the client reads them. */
function padded(document: string, pad: number, kind: keyof typeof streamed): Response {
  const head = new TextEncoder().encode(document);
  const spaces = new Uint8Array(CHUNK).fill(0x20);
  let left = pad;
  let sentHead = false;
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sentHead) {
          sentHead = true;
          streamed[kind] += head.byteLength;
          return controller.enqueue(head);
        }
        if (left <= 0) return controller.close();
        const chunk = spaces.subarray(0, Math.min(CHUNK, left));
        left -= chunk.byteLength;
        streamed[kind] += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
    { headers: { "content-type": "application/json" } },
  );
}

let svc: RunningService;
let publisher: ReturnType<typeof Bun.serve>;
let issuer: string;
let token: string;

beforeAll(async () => {
  const port = await freePort();
  issuer = `https://127.0.0.1:${port}`;
  svc = await startService("pglite", { TOKEN_SIGNING_ALG: "ES256", ISSUER_URL: issuer });
  const serverCa = readFileSync(join(svc.dataDir, "server.crt"), "utf8");
  const jwks = await (await trustingFetch(serverCa)(`${svc.url}/.well-known/jwks.json`)).text();
  publisher = Bun.serve({
    port,
    hostname: "127.0.0.1",
    tls: { cert: serverCa, key: readFileSync(join(svc.dataDir, "server.key"), "utf8") },
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/.well-known/openid-configuration") {
        if (broken.discovery) return broken.discovery();
        return padded(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }), padding.discovery, "discovery");
      }
      if (path === "/jwks") return broken.jwks ? broken.jwks() : padded(jwks, padding.jwks, "jwks");
      return new Response("not found", { status: 404 });
    },
  });
  const login = await svc.call("/api/v1/auth/tls-cert-auth/login", { body: { identityId: await identityWith(svc, {}) }, cert: workload.pem, key: workload.keyPem });
  token = login.json.accessToken;
}, 60_000);
afterAll(async () => {
  publisher?.stop(true);
  await svc?.stop();
});

/** A fresh middleware (nothing cached) trusting the publisher, and one request through it. */
async function guarded(bearer = token, at = issuer): Promise<Response> {
  const app = new Hono<CertauthEnv>();
  app.use("/api/*", certauthAuth({ issuer: at, fetch: trustingFetch(readFileSync(join(svc.dataDir, "server.crt"), "utf8")) }));
  app.get("/api/whoami", (c) => c.text(c.var.certauth.identityId));
  return app.request("/api/whoami", { headers: { authorization: `Bearer ${bearer}` } });
}
const guardedStatus = async () => (await guarded()).status;

/** The 503 the middleware answers when it cannot get the keys: the introspection answer's shape, with Retry-After. */
async function expectUnavailable(res: Response) {
  expect(res.status).toBe(503);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(res.headers.get("www-authenticate")).toBeNull();
  expect(await res.json()).toEqual({ error: "temporarily_unavailable", message: expect.any(String) });
}

describe("certauth/middleware's reads of the issuer", () => {
  it("trusts documents padded to 512 KiB each: far past any real discovery document or JWKS", async () => {
    padding.discovery = padding.jwks = 512 * 1024;
    expect(await guardedStatus()).toBe(200);
  });

  it("refuses a discovery document over 1 MiB, and stops reading it", async () => {
    padding.discovery = 64 * 1024 * 1024;
    padding.jwks = 0;
    streamed.discovery = 0;
    await expectUnavailable(await guarded());
    // What sockets and streams buffer past the 1 MiB read, not the 64 MiB offered.
    expect(streamed.discovery).toBeLessThan(16 * 1024 * 1024);
  });

  it("refuses a JWKS over 1 MiB, and stops reading it", async () => {
    padding.discovery = 0;
    padding.jwks = 64 * 1024 * 1024;
    streamed.jwks = 0;
    await expectUnavailable(await guarded());
    expect(streamed.jwks).toBeLessThan(16 * 1024 * 1024);
  });
});

describe("certauth/middleware when the issuer's keys cannot be had", () => {
  afterEach(() => {
    padding.discovery = padding.jwks = 0;
    delete broken.discovery;
    delete broken.jwks;
  });

  it("answers 503 when nothing listens at the issuer, or at a jwksUrl given", async () => {
    await expectUnavailable(await guarded(token, `https://127.0.0.1:${await freePort()}`));
    const app = new Hono<CertauthEnv>();
    app.use("*", certauthAuth({ jwksUrl: `https://127.0.0.1:${await freePort()}/jwks` }));
    app.get("/", (c) => c.text("in"));
    await expectUnavailable(await app.request("/", { headers: { authorization: `Bearer ${token}` } }));
  });

  it("answers 503 for an error status or a broken document, from discovery or the JWKS", async () => {
    const answers = {
      "error status": () => new Response("down for maintenance", { status: 502 }),
      "not JSON": () => new Response("<html>", { headers: { "content-type": "application/json" } }),
      "not a JWKS": () => Response.json({ keys: "none" }),
    };
    for (const [what, answer] of Object.entries(answers)) {
      broken.jwks = answer;
      const res = await guarded();
      if (res.status !== 503) throw new Error(`JWKS ${what}: ${res.status}`);
      await expectUnavailable(res);
      delete broken.jwks;
    }
    broken.discovery = answers["error status"];
    await expectUnavailable(await guarded());
    broken.discovery = answers["not JSON"];
    await expectUnavailable(await guarded());
  });

  it("still answers 401 for a token that fails verification against the keys it got", async () => {
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, identityId: "someone-else" })).toString("base64url")}.${signature}`;
    const unknownKid = `${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(header, "base64url").toString()), kid: "nobody" })).toString("base64url")}.${payload}.${signature}`;
    for (const bad of [tampered, unknownKid, "not-a-jwt"]) {
      const res = await guarded(bad);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
      expect((await res.json()).error).toBe("invalid_token");
    }
    expect(await guardedStatus()).toBe(200);
  });
});
