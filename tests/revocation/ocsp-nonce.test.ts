/**
 * The OCSP nonce (RFC 8954) against a real HTTP responder that signs real answers with the CA's key: `openssl ocsp`
 * always echoes the request's nonce, so this small responder (built with @peculiar/asn1-ocsp) answers "good"
 * either with the request's nonce or with another one. Storage plays no part, so PGlite only.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startService, type RunningService } from "../helpers/service.ts";
import { signedAnswer, startResponder, type Responder } from "../helpers/ocsp-responder.ts";
import { bundle, makeCa, makeLeaf } from "../fixtures/pki.ts";

const root = await makeCa({ subject: "CN=OCSP Nonce Root" });
const leaf = await makeLeaf({ issuer: root, cn: "nonce" });

describe("the OCSP nonce", () => {
  let svc: RunningService;
  let orgId: string;
  let responder: Responder;
  let base = "";

  beforeAll(async () => {
    // Answers "good" signed by the CA, with the request's nonce under /echo and another one under /other.
    responder = await startResponder((der, path) => signedAnswer(der, { signer: root, nonce: path === "/other" ? "other" : "echo" }));
    base = responder.base;
    svc = await startService("pglite", { LOGIN_RATE_LIMIT: "0" });
    orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Acme", slug: "acme" } })).json.organization.id;
  }, 120_000);
  afterAll(async () => {
    await svc?.stop();
    responder?.close();
  });

  const loginVia = async (responder: string) => {
    const id = (await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId } })).json.identity.id;
    const attached = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, {
      body: { caCertificate: root.pem, ocspEnabled: true, ocspServersOverride: [responder], ocspMaxRetries: 0 },
    });
    expect(attached.status).toBe(200);
    return svc.call("/api/v1/auth/tls-cert-auth/login", { body: { identityId: id }, cert: bundle(leaf), key: leaf.keyPem });
  };

  it("accepts a signed good answer that echoes the request's nonce", async () => {
    expect((await loginVia(`${base}/echo`)).status).toBe(200);
  });

  it("refuses a signed good answer that carries another nonce with revocation_status_unavailable", async () => {
    const out = await loginVia(`${base}/other`);
    expect(out.status).toBe(401);
    expect(out.headers["x-certauth-reason"]).toBe("revocation_status_unavailable");
    expect(out.json.message).toContain("the answer's nonce is not the request's");
  });
});
