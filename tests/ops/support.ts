/** An in-process app over an in-memory database, its log lines captured, and a CA whose leaf may log in. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrap, type Service } from "../../src/server/bootstrap.ts";
import { createApp, type App } from "../../src/app.ts";
import { sha256 } from "../../src/admin/auth.ts";
import { createLogger, type LogFormat } from "../../src/log.ts";
import { Metrics } from "../../src/metrics/registry.ts";
import { makeCa, makeLeaf, type Issued } from "../fixtures/pki.ts";

export const ADMIN_TOKEN = "ops-test-admin-token-0123456789abcdefghij";

export interface OpsWorld {
  app: App;
  service: Service;
  metrics: Metrics;
  logs: string[];
  ca: Issued;
  leaf: Issued;
  identityId: string;
  request(path: string, init?: RequestInit & { json?: unknown; cert?: Uint8Array | null; admin?: boolean; bearer?: string }): Promise<Response>;
  close(): Promise<void>;
}

export async function opsWorld(env: Record<string, string> = {}, logFormat: LogFormat = "json"): Promise<OpsWorld> {
  const dataDir = mkdtempSync(join(tmpdir(), "certauth-ops-"));
  const service = await bootstrap({ DATA_DIR: dataDir, DATABASE_URL: "memory://", ADMIN_TOKEN, LOG_LEVEL: "silent", ...env }, () => {});
  const logs: string[] = [];
  const metrics = new Metrics();
  const app = createApp({
    config: service.config,
    database: service.database,
    signer: service.signer,
    clock: () => new Date(),
    adminTokenHash: await sha256(ADMIN_TOKEN),
    log: createLogger("debug", (line) => logs.push(line), logFormat),
    metrics,
  });
  const ca = await makeCa({ subject: "CN=Ops CA" });
  const leaf = await makeLeaf({ issuer: ca, cn: "svc-ops" });
  const request: OpsWorld["request"] = async (path, init = {}) => {
    const headers = new Headers(init.headers);
    if (init.json !== undefined) headers.set("content-type", "application/json");
    if (init.admin) headers.set("authorization", `Bearer ${ADMIN_TOKEN}`);
    if (init.bearer) headers.set("authorization", `Bearer ${init.bearer}`);
    const body = init.json !== undefined ? JSON.stringify(init.json) : init.body;
    const chain = init.cert === undefined ? [leaf.der] : init.cert ? [init.cert] : [];
    return app.fetch(new Request(`https://localhost${path}`, { ...init, headers, body }), {
      peer: { remoteAddress: "127.0.0.1", certificateChain: chain },
    });
  };
  const org = (await (await request("/api/v1/organizations", { method: "POST", admin: true, json: { name: "Ops", slug: "ops" } })).json()) as any;
  const identity = (await (
    await request("/api/v1/identities", { method: "POST", admin: true, json: { name: "svc-ops", organizationId: org.organization.id } })
  ).json()) as any;
  const identityId = identity.identity.id as string;
  const attached = await request(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, {
    method: "POST",
    admin: true,
    json: { caCertificate: ca.pem, allowedCommonNames: "svc-ops", accessTokenNumUsesLimit: 2, accessTokenTTL: 60, accessTokenMaxTTL: 3600 },
  });
  if (attached.status !== 200) throw new Error(`attach failed: ${await attached.text()}`);
  return {
    app,
    service,
    metrics,
    logs,
    ca,
    leaf,
    identityId,
    request,
    async close() {
      await service.database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
