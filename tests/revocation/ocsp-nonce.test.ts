/**
 * The OCSP nonce (RFC 8954) against a real HTTP responder that signs real answers with the CA's key: `openssl ocsp`
 * always echoes the request's nonce, so this small responder (built with @peculiar/asn1-ocsp) answers "good"
 * either with the request's nonce or with another one. Storage plays no part, so PGlite only.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  BasicOCSPResponse,
  CertStatus,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  SingleResponse,
} from "@peculiar/asn1-ocsp";
import { AlgorithmIdentifier, Extension, Name } from "@peculiar/asn1-x509";
import * as x509 from "../../src/pki/x509.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { bundle, makeCa, makeLeaf, type Issued } from "../fixtures/pki.ts";

/** Answers every request "good", signed by `ca`, with the request's nonce or, when `mode` is "other", a fresh one. */
async function signedAnswer(ca: Issued, requestDer: Uint8Array, mode: "echo" | "other"): Promise<Uint8Array> {
  const request = AsnConvert.parse(requestDer, OCSPRequest);
  const asked = request.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
  const nonce =
    mode === "echo" || !asked
      ? asked
      : new Extension({ extnID: id_pkix_ocsp_nonce, extnValue: new OctetString(AsnConvert.serialize(new OctetString(crypto.getRandomValues(new Uint8Array(16))))) });
  const now = Date.now();
  const data = new ResponseData({
    responderID: new ResponderID({ byName: AsnConvert.parse(ca.cert.subjectName.toArrayBuffer(), Name) }),
    producedAt: new Date(now),
    responses: request.tbsRequest.requestList.map(
      (r) => new SingleResponse({ certID: r.reqCert, certStatus: new CertStatus({ good: null }), thisUpdate: new Date(now - 1000), nextUpdate: new Date(now + 3600_000) }),
    ),
    responseExtensions: nonce ? [nonce] : undefined,
  });
  const tbs = AsnConvert.serialize(data);
  const algorithm = { ...ca.key.signingAlgorithm, ...ca.key.keys.privateKey.algorithm } as Algorithm;
  const raw = await crypto.subtle.sign(algorithm, ca.key.keys.privateKey, tbs);
  const basic = new BasicOCSPResponse({
    tbsResponseData: data,
    signatureAlgorithm: new x509.AlgorithmProvider().toAsnAlgorithm(algorithm) as AlgorithmIdentifier,
    signature: new x509.AsnEcSignatureFormatter().toAsnSignature(algorithm, raw) ?? raw,
  });
  const response = new OCSPResponse({
    responseStatus: OCSPResponseStatus.successful,
    responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) }),
  });
  return new Uint8Array(AsnConvert.serialize(response));
}

const root = await makeCa({ subject: "CN=OCSP Nonce Root" });
const leaf = await makeLeaf({ issuer: root, cn: "nonce" });

describe("the OCSP nonce", () => {
  let svc: RunningService;
  let orgId: string;
  let server: Server;
  let base = "";

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const [, mode, encoded] = (req.url ?? "").split("/");
      const der = Buffer.from(decodeURIComponent(encoded ?? ""), "base64");
      res.writeHead(200, { "content-type": "application/ocsp-response" }).end(await signedAnswer(root, der, mode === "other" ? "other" : "echo"));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    svc = await startService("pglite", { LOGIN_RATE_LIMIT: "0" });
    orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Acme", slug: "acme" } })).json.organization.id;
  }, 120_000);
  afterAll(async () => {
    await svc?.stop();
    server?.close();
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
