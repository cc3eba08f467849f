/**
 * certauth/middleware reads bounded answers from the issuer: a discovery document or JWKS past 1 MiB is refused
 * without being read whole (the middleware then answers 401), while real documents padded well past their usual
 * size still work. The issuer's documents are served over TLS at ISSUER_URL by a server of the test, the tokens
 * come from a real certauth.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
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
        return padded(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }), padding.discovery, "discovery");
      }
      if (path === "/jwks") return padded(jwks, padding.jwks, "jwks");
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
async function guardedStatus(): Promise<number> {
  const app = new Hono<CertauthEnv>();
  app.use("/api/*", certauthAuth({ issuer, fetch: trustingFetch(readFileSync(join(svc.dataDir, "server.crt"), "utf8")) }));
  app.get("/api/whoami", (c) => c.text(c.var.certauth.identityId));
  return (await app.request("/api/whoami", { headers: { authorization: `Bearer ${token}` } })).status;
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
    expect(await guardedStatus()).toBe(401);
    // What sockets and streams buffer past the 1 MiB read, not the 64 MiB offered.
    expect(streamed.discovery).toBeLessThan(16 * 1024 * 1024);
  });

  it("refuses a JWKS over 1 MiB, and stops reading it", async () => {
    padding.discovery = 0;
    padding.jwks = 64 * 1024 * 1024;
    streamed.jwks = 0;
    expect(await guardedStatus()).toBe(401);
    expect(streamed.jwks).toBeLessThan(16 * 1024 * 1024);
  });
});
