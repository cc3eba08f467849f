/**
 * Header mode behind a real nginx (ssl_verify_client optional_no_ca, $ssl_client_escaped_cert), on each
 * runtime's header-mode listener (native Bun.serve and Deno.serve, the bridge on Node). nginx connects
 * from 127.0.0.2, the only trusted proxy; a client talking to the service directly comes from 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";
import {
  nginxBinary,
  RUNTIMES,
  startAll,
  startNginx,
  startServiceProcess,
  stopAllProcesses,
  type NginxProcess,
  type Runtime,
  type ServiceProcess,
} from "../helpers/processes.ts";
import { call } from "../helpers/https.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";
const HEADER = "x-identity-tls-cert-auth-client-cert";

const ca = await makeCa({ subject: "CN=Behind nginx CA" });
const leaf = await makeLeaf({ issuer: ca, cn: "svc-behind-nginx" });
const otherCa = await makeCa({ subject: "CN=Not the configured CA" });
const stranger = await makeLeaf({ issuer: otherCa, cn: "svc-behind-nginx" });

/** The leaf as nginx's $ssl_client_escaped_cert writes it. */
const escaped = encodeURIComponent(leaf.pem).replace(/%2B/g, "+").replace(/%2F/g, "/").replace(/%3D/g, "=");

const nginx = nginxBinary();

interface Stack {
  svc: ServiceProcess;
  proxy?: NginxProcess;
  identityId: string;
}
const stacks = new Map<Runtime, Stack>();

/** One service per runtime, each behind its own nginx, started side by side. */
async function startStack(runtime: Runtime): Promise<void> {
  const svc = await startServiceProcess(runtime, { CLIENT_CERT_SOURCE: "header", TRUSTED_PROXIES: "127.0.0.2/32" });
  const stack: Stack = { svc, identityId: "" };
  stacks.set(runtime, stack);
  stack.proxy = await startNginx(nginx!, { upstream: svc.url, proxyBind: "127.0.0.2" });
  const org = await svc.admin("/api/v1/organizations", { body: { name: "Edge", slug: "edge" } });
  const identity = await svc.admin("/api/v1/identities", { body: { name: "edge-agent", organizationId: org.json.organization.id } });
  stack.identityId = identity.json.identity.id;
  const attach = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${stack.identityId}`, { body: { caCertificate: ca.pem } });
  if (attach.status !== 200) throw new Error(`attach failed on ${runtime}: ${attach.status} ${attach.text}\n${svc.output()}`);
}

describe.skipIf(!nginx)("header mode behind nginx", () => {
  beforeAll(() => startAll(RUNTIMES.map(startStack)), 120_000);
  afterAll(async () => {
    await Promise.all([...stacks.values()].map(async ({ svc, proxy }) => {
      await proxy?.stop();
      await svc.stop();
    }));
    await stopAllProcesses();
  });

  describe.each(RUNTIMES)("on %s", (runtime) => {
    const get = () => {
      const { svc, proxy, identityId } = stacks.get(runtime)!;
      return { svc, proxy: proxy!, identityId };
    };

    it("logs in with the client certificate nginx forwards (200), and records the client's address, not nginx's", async () => {
      const { svc, proxy, identityId } = get();
      const res = await call(proxy.url, LOGIN, {
        body: { identityId },
        cert: leaf.pem,
        key: leaf.keyPem,
        headers: { "x-forwarded-for": "203.0.113.9" },
      });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ accessToken: expect.any(String), tokenType: "Bearer" });
      const audit = await svc.admin(`/api/v1/audit-logs?identityId=${identityId}&eventType=login-identity-tls-cert-auth&limit=1`);
      // nginx appended its peer (127.0.0.1) to the client's spoofed X-Forwarded-For; that is the nearest untrusted hop.
      expect(audit.json.auditLogs[0]).toMatchObject({ clientIp: "127.0.0.1" });
    });

    it("judges the forwarded certificate: another CA's leaf through nginx is a 401 ca_verification_failed", async () => {
      const { proxy, identityId } = get();
      const res = await call(proxy.url, LOGIN, { body: { identityId }, cert: stranger.pem, key: stranger.keyPem });
      expect(res.status).toBe(401);
      expect(res.headers["x-certauth-reason"]).toBe("ca_verification_failed");
    });

    it("gives no certificate (400) to a client without one that forges the header through nginx", async () => {
      const { proxy, identityId } = get();
      const res = await call(proxy.url, LOGIN, { body: { identityId }, headers: { [HEADER]: escaped } });
      expect(res.status).toBe(400);
    });

    it("ignores the same header sent directly by an untrusted peer (400, no certificate), without parsing it", async () => {
      const { svc, identityId } = get();
      const res = await svc.call(LOGIN, { body: { identityId }, headers: { [HEADER]: escaped } });
      expect(res.status).toBe(400);
      const garbage = await svc.call(LOGIN, { body: { identityId }, headers: { [HEADER]: "%%%not-even-decodable" } });
      expect(garbage.status).toBe(400);
      expect(garbage.json.message).toBe(res.json.message);
    });
  });
});
