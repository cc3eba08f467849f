/**
 * A forwarded certificate chain may need tens of KiB of headers. On Bun the header-mode listener is
 * Bun.serve, whose 16 KiB default `npm start` (and the binary) raise with --max-http-header-size.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { bundle, makeCa, makeLeaf } from "../fixtures/pki.ts";
import { startServiceProcess, stopAllProcesses, type ServiceProcess } from "../helpers/processes.ts";

const ca = await makeCa({ subject: "CN=Big Header CA" });
const leaf = await makeLeaf({ issuer: ca, cn: "svc-big-headers" });

describe("header mode with large request headers on Bun", () => {
  let svc: ServiceProcess;
  let identityId: string;
  beforeAll(async () => {
    svc = await startServiceProcess("bun", { CLIENT_CERT_SOURCE: "header", TRUSTED_PROXIES: "127.0.0.1/32" });
    const org = (await svc.admin("/api/v1/organizations", { body: { name: "Big", slug: "big" } })).json.organization.id;
    identityId = (await svc.admin("/api/v1/identities", { body: { name: "big", organizationId: org } })).json.identity.id;
    await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, { body: { caCertificate: ca.pem } });
  }, 120_000);
  afterAll(() => stopAllProcesses());

  it("logs in with a forwarded certificate among 48 KiB of headers (Bun.serve's default limit is 16 KiB)", async () => {
    const res = await svc.call("/api/v1/auth/tls-cert-auth/login", {
      body: { identityId },
      headers: {
        "x-identity-tls-cert-auth-client-cert": encodeURIComponent(bundle(leaf)),
        "x-padding": "p".repeat(48 * 1024),
      },
    });
    expect(res.status).toBe(200);
    expect(res.json.tokenType).toBe("Bearer");
  });
});
