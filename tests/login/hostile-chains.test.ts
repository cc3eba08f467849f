/**
 * Issue 13, attack 1, over real mutual TLS: the complete-graph bundle against a chain-mode identity.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { refusedChains } from "../../src/pki/index.ts";
import { bundle, generateKeys, makeCa, makeCompleteGraph, makeLeaf, type Issued } from "../fixtures/pki.ts";
import { startService, type RunningService } from "../helpers/service.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";

const root = await makeCa({ subject: "CN=Hostile Chains Root" });
const inter = await makeCa({ subject: "CN=Hostile Chains Inter", issuer: root });
const leaf = await makeLeaf({ issuer: inter, cn: "svc" });
const graph = await makeCompleteGraph({ intermediates: 10, subject: "CN=Hostile Chains Root" });
const padding = (await makeCompleteGraph({ intermediates: 7, subject: "CN=Hostile Chains Inter" })).intermediates;
const newKey = await generateKeys("p256");
const newRoot = await makeCa({ subject: "CN=Hostile Chains New Root", key: newKey });
const crossSigned = await makeCa({ subject: "CN=Hostile Chains New Root", key: newKey, issuer: root });
const underNewRoot = await makeCa({ subject: "CN=Hostile Chains New Inter", issuer: newRoot });
const viaCrossSigned = await makeLeaf({ issuer: underNewRoot, cn: "svc-cross" });

const tlsOf = (client: Issued, ...chain: Issued[]) => ({ cert: bundle(client, ...chain), key: client.keyPem });

describe("hostile chains over mTLS", () => {
  let svc: RunningService;
  let identityId: string;

  beforeAll(async () => {
    svc = await startService("pglite", { LOGIN_RATE_LIMIT: "0" });
    const orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Acme", slug: "acme" } })).json.organization.id;
    identityId = (await svc.admin("/api/v1/identities", { body: { name: "chain", organizationId: orgId } })).json.identity.id;
    const attached = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${identityId}`, {
      body: { caCertificate: root.pem, verifyClientCertificateChain: true },
    });
    expect(attached.status).toBe(200);
  }, 120_000);
  afterAll(() => svc?.stop());

  const login = (tls: { cert: string; key: string }) => svc.call(LOGIN, { body: { identityId }, ...tls });

  it("refuses the complete-graph bundle with 401 ca_verification_failed, and a repeat from the refused-chain cache", async () => {
    const hits = refusedChains.hits;
    const first = await login(tlsOf(graph.leaf, ...graph.intermediates));
    expect(first.status).toBe(401);
    expect(first.headers["x-certauth-reason"]).toBe("ca_verification_failed");
    expect(refusedChains.hits).toBe(hits);
    const again = await login(tlsOf(graph.leaf, ...graph.intermediates));
    expect(again.status).toBe(401);
    expect(again.headers["x-certauth-reason"]).toBe("ca_verification_failed");
    // At least one hit: a login refused on a remembered row reads the row again and judges once more.
    expect(refusedChains.hits).toBeGreaterThan(hits);
  });

  it("logs in a good chain padded with a complete graph on its intermediate's name", async () => {
    expect((await login(tlsOf(leaf, ...padding, inter))).status).toBe(200);
  });

  it("logs in through a cross-signed intermediate sent beside its self-signed sibling", async () => {
    expect((await login(tlsOf(viaCrossSigned, underNewRoot, newRoot, crossSigned))).status).toBe(200);
  });
});
