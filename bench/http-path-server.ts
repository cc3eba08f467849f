/**
 * One server of `bench/http-path.ts`: a stage of the service's HTTP path behind the real mTLS listener.
 *
 *   STAGE=bridge  the service's node:tls → node:http bridge and IncomingMessage ⇄ Request conversion, with a
 *                 trivial fetch that answers a fixed login-shaped JSON body (200 when the peer sent a certificate)
 *   STAGE=app     the full app (every middleware, the login route's rate limiter, validation, client certificate
 *                 and client IP, c.json) behind the same bridge, with a stub login injected through createApp
 *                 that reads the chain and answers a fixed token: no database (none is opened), no signing
 *
 * With DATA_DIR (a seeded database, bench/seed.ts), the real service is booted with its login cut after a stage
 * (`bun bench/profile.ts --tls` compares them with the service itself):
 *   STAGE=app     the app with its stub login, over the opened database
 *   STAGE=lookup  the app with a login that finds the identity (remembered, or read by the group-committed lookup)
 *   STAGE=verify  … then decodes the leaf and verifies the chain against the configuration (caches included)
 *   STAGE=sign    … then signs the token; answers it without writing it
 *
 *   PORT=… TLS_CERT_FILE=… TLS_KEY_FILE=… [DATA_DIR=…] STAGE=bridge|app|lookup|verify|sign bun bench/http-path-server.ts
 *
 * The ceiling (the bare handler) is bench/ceiling-server.ts.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const stage = process.env.STAGE ?? "bridge";
const ACCESS_TOKEN = "x".repeat(560);
const port = Number(process.env.PORT ?? 0);

let listening: { port: number };
if (stage === "bridge") {
  const { createTlsBridge } = await import("../src/adapters/node-tls/bridge.ts");
  const { MAX_BODY_BYTES } = await import("../src/http/limits.ts");
  const { readFileSync } = await import("node:fs");
  const body = JSON.stringify({ accessToken: ACCESS_TOKEN, expiresIn: 2592000, accessTokenMaxTTL: 2592000, tokenType: "Bearer" });
  const bridge = createTlsBridge(
    async (request, env) => {
      await request.arrayBuffer();
      return new Response(body, { status: env.peer.certificateChain.length > 0 ? 200 : 400, headers: { "content-type": "application/json" } });
    },
    {
      tls: { cert: readFileSync(process.env.TLS_CERT_FILE!, "utf8"), key: readFileSync(process.env.TLS_KEY_FILE!, "utf8") },
      requestCert: true,
      maxHeaderSize: 16 * 1024,
      maxBodySize: MAX_BODY_BYTES,
    },
  );
  listening = await bridge.listen(port, "127.0.0.1");
} else if (process.env.DATA_DIR) {
  listening = await partialLogin(stage);
} else {
  const { readFileSync } = await import("node:fs");
  const { createApp } = await import("../src/app.ts");
  const { loadConfig } = await import("../src/config.ts");
  const { createLogger } = await import("../src/log.ts");
  const { badRequest } = await import("../src/errors.ts");
  const { bun } = await import("../src/adapters/bun/index.ts");
  const { startServer } = await import("../src/server/listener.ts");
  type Service = import("../src/server/bootstrap.ts").Service;
  const config = loadConfig({
    DATA_DIR: mkdtempSync(join(tmpdir(), "certauth-http-path-")),
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    LOGIN_RATE_LIMIT: "1000000",
    TRUSTED_PROXIES: process.env.TRUSTED_PROXIES,
  });
  // No database and no signer: nothing on the login route's path touches them once the service is stubbed.
  // Building the app prepares queries (chained calls); only running one throws.
  const unused: object = new Proxy(function () {}, {
    get: (_, name) => {
      if (name === "then" || name === "execute" || name === "sign") throw new Error(`http-path bench: the app touched ${String(name)}`);
      return unused;
    },
    apply: () => unused,
  });
  const log = createLogger(config.LOG_LEVEL);
  const database = { db: unused, driver: "none", ping: async () => {}, close: async () => {} } as unknown as Service["database"];
  // Everything the login route does except the login itself: the stub still asks for the chain (a 400 without one).
  const login = async (request: { chain: () => Uint8Array[] | null }) => {
    if (!request.chain()) throw badRequest("A client certificate is required.");
    return { accessToken: ACCESS_TOKEN, expiresIn: 2592000, accessTokenMaxTTL: 2592000, tokenType: "Bearer" as const };
  };
  const app = createApp({ config, database, log, clock: () => new Date(), adminTokenHash: new Uint8Array(32), signer: unused as Service["signer"], login });
  const tls = { cert: readFileSync(process.env.TLS_CERT_FILE!, "utf8"), key: readFileSync(process.env.TLS_KEY_FILE!, "utf8") };
  const service = { app, config, database, log, tls, signer: unused } as Service;
  listening = await startServer(bun, service, port, "127.0.0.1");
}
/** The seeded service, booted as `npm start` does, with its login cut after `stage`. */
async function partialLogin(stage: string): Promise<{ port: number }> {
  const { bootstrap } = await import("../src/server/bootstrap.ts");
  const { startServer } = await import("../src/server/listener.ts");
  const { bun } = await import("../src/adapters/bun/index.ts");
  const { createApp } = await import("../src/app.ts");
  const { identityLookup } = await import("../src/login/identities.ts");
  const { verify } = await import("../src/login/verification.ts");
  const { decodeLeaf, TrustCache } = await import("../src/pki/index.ts");
  const { badRequest, notFound } = await import("../src/errors.ts");
  type LoginRequest = import("../src/login/login.ts").LoginRequest;
  if (!["app", "lookup", "verify", "sign"].includes(stage)) throw new Error(`unknown STAGE ${stage}`);
  const service = await bootstrap({ ...process.env, HOST: "127.0.0.1", LOGIN_RATE_LIMIT: "0" });
  const { db } = service.database;
  const identities = identityLookup(db);
  const trustCache = new TrustCache();
  const login = async (request: LoginRequest) => {
    const chain = request.chain();
    if (!chain?.length) throw badRequest("A client certificate is required.");
    if (stage === "app") return { accessToken: ACCESS_TOKEN, expiresIn: 2592000, accessTokenMaxTTL: 2592000, tokenType: "Bearer" as const };
    const row = identities.remembered(request.identityId) ?? (await identities.read(request.identityId));
    if (!row?.tlsCertAuth) throw notFound("No such identity.");
    const now = new Date();
    if (stage !== "lookup") {
      const leaf = await decodeLeaf(chain[0]!);
      if (!leaf) throw badRequest("Undecodable certificate.");
      await verify({ db, trustCache }, row.tlsCertAuth, row.org.rootOrgId, leaf, chain, now);
    }
    const iat = Math.floor(now.getTime() / 1000);
    const accessToken =
      stage === "sign" ? await service.signer.sign({ sub: row.identity.id, jti: crypto.randomUUID() }, iat, iat + row.tlsCertAuth.accessTokenTTL) : ACCESS_TOKEN;
    return { accessToken, expiresIn: row.tlsCertAuth.accessTokenTTL, accessTokenMaxTTL: row.tlsCertAuth.accessTokenMaxTTL, tokenType: "Bearer" as const };
  };
  const { config, database, log, signer } = service;
  service.app = createApp({ config, database, log, signer, clock: () => new Date(), adminTokenHash: new Uint8Array(32), login });
  return startServer(bun, service, port, "127.0.0.1");
}

console.error(`http-path ${stage}: listening on ${listening.port}`);
const stop = () => process.exit(0);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
