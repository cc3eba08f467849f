/**
 * A small OCSP responder over real HTTP that signs real answers (built with @peculiar/asn1-ocsp), for what
 * `openssl ocsp` will not do: a nonce other than the request's, a ResponderID that names someone else.
 */
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
import { AlgorithmIdentifier, Certificate, Extension, Name } from "@peculiar/asn1-x509";
import * as x509 from "../../src/pki/x509.ts";
import type { Issued } from "../fixtures/pki.ts";

export interface AnswerOptions {
  /** The key that signs the answer: the CA's, or a delegated responder's. */
  signer: Issued;
  /** Certificates carried in the answer (a delegated responder's). */
  certs?: Issued[];
  /** Whom the ResponderID names, and how (RFC 6960 §4.2.1); the signer by name when not given. */
  responderId?: { by: "name" | "key"; cert: Issued };
  /** The request's nonce back, or another one. */
  nonce?: "echo" | "other";
}

/** The SHA-1 of the subjectPublicKey BIT STRING's value: ResponderID byKey. */
export async function keyHashOf(cert: Issued): Promise<ArrayBuffer> {
  const spki = AsnConvert.parse(cert.der, Certificate).tbsCertificate.subjectPublicKeyInfo;
  return crypto.subtle.digest("SHA-1", spki.subjectPublicKey);
}

/** A signed "good" answer, valid an hour, to every certificate the request asks about. */
export async function signedAnswer(requestDer: Uint8Array, options: AnswerOptions): Promise<Uint8Array> {
  const { signer } = options;
  const request = AsnConvert.parse(requestDer, OCSPRequest);
  const asked = request.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
  const nonce =
    options.nonce !== "other" || !asked
      ? asked
      : new Extension({ extnID: id_pkix_ocsp_nonce, extnValue: new OctetString(AsnConvert.serialize(new OctetString(crypto.getRandomValues(new Uint8Array(16))))) });
  const named = options.responderId ?? { by: "name", cert: signer };
  const responderID =
    named.by === "name"
      ? new ResponderID({ byName: AsnConvert.parse(named.cert.cert.subjectName.toArrayBuffer(), Name) })
      : new ResponderID({ byKey: new OctetString(await keyHashOf(named.cert)) });
  const now = Date.now();
  const data = new ResponseData({
    responderID,
    producedAt: new Date(now),
    responses: request.tbsRequest.requestList.map(
      (r) => new SingleResponse({ certID: r.reqCert, certStatus: new CertStatus({ good: null }), thisUpdate: new Date(now - 1000), nextUpdate: new Date(now + 3600_000) }),
    ),
    responseExtensions: nonce ? [nonce] : undefined,
  });
  const tbs = AsnConvert.serialize(data);
  const algorithm = { ...signer.key.signingAlgorithm, ...signer.key.keys.privateKey.algorithm } as Algorithm;
  const raw = await crypto.subtle.sign(algorithm, signer.key.keys.privateKey, tbs);
  const basic = new BasicOCSPResponse({
    tbsResponseData: data,
    signatureAlgorithm: new x509.AlgorithmProvider().toAsnAlgorithm(algorithm) as AlgorithmIdentifier,
    signature: new x509.AsnEcSignatureFormatter().toAsnSignature(algorithm, raw) ?? raw,
    certs: options.certs?.map((c) => AsnConvert.parse(c.der, Certificate)),
  });
  const response = new OCSPResponse({
    responseStatus: OCSPResponseStatus.successful,
    responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) }),
  });
  return new Uint8Array(AsnConvert.serialize(response));
}

export interface Responder {
  /** http://127.0.0.1:port */
  base: string;
  /** Requests answered so far. */
  requests: number;
  close(): void;
}

/** Answers GET `<base>/<path…>/<base64 request>` with `answer(request, path)` (RFC 6960 appendix A.1). */
export async function startResponder(answer: (requestDer: Uint8Array, path: string) => Promise<Uint8Array>): Promise<Responder> {
  const responder: Responder = { base: "", requests: 0, close: () => server.close() };
  const server: Server = createServer(async (req, res) => {
    responder.requests++;
    const url = req.url ?? "";
    const slash = url.lastIndexOf("/");
    const der = Buffer.from(decodeURIComponent(url.slice(slash + 1)), "base64");
    res.writeHead(200, { "content-type": "application/ocsp-response" }).end(await answer(der, url.slice(0, slash)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  responder.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return responder;
}
