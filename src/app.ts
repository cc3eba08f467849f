import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import type { Config } from "./config.ts";
import type { Database } from "./db/client.ts";
import { notFound, payloadTooLarge } from "./errors.ts";
import type { AppEnv } from "./http/env.ts";
import { errorResponse, toAppError } from "./http/errors.ts";
import { MAX_BODY_BYTES, MAX_BODY_TEXT } from "./http/limits.ts";
import type { Logger } from "./log.ts";
import { requireAdmin } from "./admin/auth.ts";
import { organizationRoutes } from "./admin/organizations.ts";
import { identityRoutes } from "./admin/identities.ts";
import { tlsCertAuthRoutes } from "./admin/tls-cert-auth.ts";
import { auditLogRoutes } from "./admin/audit-logs.ts";
import { statusRoutes } from "./status/routes.ts";
import { VERSION } from "./version.ts";
import { createLogin, type Login } from "./login/login.ts";
import { loginRoutes } from "./login/routes.ts";
import { clientIp } from "./http/client-cert.ts";
import type { TokenSigner } from "./tokens/signer.ts";
import { TrustCache } from "./pki/index.ts";
import { tokenRoutes } from "./tokens/routes.ts";
import { identityTokenAuthenticator } from "./tokens/authenticate.ts";
import { Metrics } from "./metrics/registry.ts";
import { observe } from "./metrics/middleware.ts";
import { metricsRoutes } from "./metrics/routes.ts";
import { crlSourceFor, soonestNextUpdate, type CrlSource } from "./revocation/crls.ts";
import { ocspLookupFor } from "./revocation/ocsp.ts";
import { DistributionPoints } from "./revocation/distribution-points.ts";

export interface AppDeps {
  config: Config;
  database: Database;
  log: Logger;
  clock: () => Date;
  /** SHA-256 of the admin token. */
  adminTokenHash: Uint8Array;
  signer: TokenSigner;
  /** In-memory counters behind GET /metrics; a fresh set when not given. */
  metrics?: Metrics;
  /** Fetches CRL URLs at attach and PATCH, and distribution points at login; one from the configuration when not given. */
  crlSource?: CrlSource;
  /** The login behind POST /api/v1/auth/tls-cert-auth/login; by default the database-backed one. */
  login?: Login;
}

const ADMIN_PATHS = [
  "/api/v1/organizations",
  "/api/v1/organizations/*",
  "/api/v1/identities",
  "/api/v1/identities/*",
  "/api/v1/auth/tls-cert-auth/identities/*",
  "/api/v1/audit-logs",
];

/** Wires the features together; every runtime adapter and every test builds the app here. */
export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();
  const { log, database, config, signer, clock } = deps;
  const db = database.db;
  const metrics = deps.metrics ?? new Metrics();
  const logRequests = log.enabled("info");

  // One middleware for the request id, the metrics and the request's log line: each layer of middleware
  // costs an async frame per request.
  app.use(async (c, next) => {
    const reqId = crypto.randomUUID();
    const started = performance.now();
    c.set("reqId", reqId);
    await next();
    c.res.headers.set("x-request-id", reqId);
    observe(metrics, c, started);
    if (logRequests) {
      log.info("request", {
        reqId,
        method: c.req.method,
        route: c.req.routePath,
        path: c.req.path,
        status: c.res.status,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        identityId: c.get("identityId"),
        reasonCode: c.get("reasonCode"),
        clientIp: clientIp(c, config),
      });
    }
  });

  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw payloadTooLarge(`The request body is larger than ${MAX_BODY_TEXT}.`);
      },
    }),
  );

  const tokenDeps = { db, config, signer, clock };
  const authenticateIdentityToken = identityTokenAuthenticator(tokenDeps);
  const adminAuth = requireAdmin({ adminTokenHash: deps.adminTokenHash, authenticateIdentityToken });
  for (const path of ADMIN_PATHS) app.use(path, adminAuth);

  app.route("/", statusRoutes(database));
  app.route("/", metricsRoutes({ metrics, database, metricsToken: config.METRICS_TOKEN, soonestCrlNextUpdate: () => soonestNextUpdate(database.db) }));
  const crlSource = deps.crlSource ?? crlSourceFor(config, metrics);
  const distributionPoints = new DistributionPoints(db, crlSource, log);
  const login =
    deps.login ??
    createLogin({
      db,
      config,
      signer,
      clock,
      trustCache: new TrustCache(undefined, crlSource.decode),
      ocsp: ocspLookupFor(config, metrics),
      decoderFor: (tenant) => crlSource.decoderFor(tenant),
      crls: (configId, tenant) => distributionPoints.forConfiguration(configId, tenant),
    });
  app.route("/", loginRoutes({ config, login }));
  app.route("/", organizationRoutes(db));
  app.route("/", identityRoutes(db));
  app.route("/", tlsCertAuthRoutes(db, crlSource));
  app.route("/", auditLogRoutes(db));
  app.route("/", tokenRoutes({ ...tokenDeps, adminTokenHash: deps.adminTokenHash, authenticateIdentityToken }));

  app.doc31("/api/docs/openapi.json", {
    openapi: "3.1.0",
    info: { title: "certauth", version: VERSION, description: "Machine identity login with X.509 client certificates" },
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer" });

  app.notFound((c) => errorResponse(c, notFound(`Route ${c.req.method} ${c.req.path} not found.`)));
  app.onError((err, c) => errorResponse(c, toAppError(err, log, c.get("reqId") ?? "")));
  return app;
}

export type App = ReturnType<typeof createApp>;
