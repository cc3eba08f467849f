/**
 * RFC 6960 §4.2.1: an OCSP answer's ResponderID names its signer, by subject or by the SHA-1 of its public key.
 * An answer signed by the issuer or its delegated responder whose ResponderID names someone else is refused. Real
 * signed answers from a responder of the test (`openssl ocsp` always names its signer), through the client a
 * login uses; the `openssl ocsp` answers of ocsp.test.ts, by name, pass too.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { OcspClient } from "../../src/revocation/ocsp.ts";
import { parseAllowedHosts } from "../../src/net/allowed-hosts.ts";
import { parseCertificate } from "../../src/pki/lib/certificate.ts";
import { sha256Hex } from "../../src/pki/lib/digest.ts";
import { signedAnswer, startResponder, type AnswerOptions, type Responder } from "../helpers/ocsp-responder.ts";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";

const root = await makeCa({ subject: "CN=OCSP ResponderID Root" });
const stranger = await makeCa({ subject: "CN=Someone Else" });
const delegate = await makeLeaf({ issuer: root, cn: "OCSP Delegate", eku: ["1.3.6.1.5.5.7.3.9"] });
const leaf = await makeLeaf({ issuer: root, cn: "asked" });
const issuer = parseCertificate(root.der, await sha256Hex(root.der));
const cert = parseCertificate(leaf.der, await sha256Hex(leaf.der));

/** What the responder answers next. */
let answering: AnswerOptions = { signer: root };
let responder: Responder;
beforeAll(async () => {
  responder = await startResponder((der) => signedAnswer(der, answering));
});
afterAll(() => responder?.close());

/** A fresh client (nothing cached) asking the responder once, answering as `options` say. */
async function ask(options: AnswerOptions) {
  answering = options;
  const client = new OcspClient(parseAllowedHosts(""));
  const settings = { serversOverride: [responder.base], failOpen: false, queryAllServers: false, maxRetries: 0, thisUpdateMaxAge: 0 };
  return client.status(cert, issuer, settings, new Date(), Date.now() + 5_000);
}

const MISMATCH = "the answer's ResponderID does not name the certificate whose key signed it";

describe("the ResponderID of an OCSP answer", () => {
  it("accepts the issuer's answer naming the issuer by name or by key", async () => {
    expect(await ask({ signer: root, responderId: { by: "name", cert: root } })).toMatchObject({ status: "good" });
    expect(await ask({ signer: root, responderId: { by: "key", cert: root } })).toMatchObject({ status: "good" });
  });

  it("accepts a delegated responder's answer naming the delegate by name or by key", async () => {
    expect(await ask({ signer: delegate, certs: [delegate], responderId: { by: "name", cert: delegate } })).toMatchObject({ status: "good" });
    expect(await ask({ signer: delegate, certs: [delegate], responderId: { by: "key", cert: delegate } })).toMatchObject({ status: "good" });
  });

  it("refuses the issuer's answer naming another responder, by name or by key", async () => {
    for (const by of ["name", "key"] as const) {
      const answer = await ask({ signer: root, responderId: { by, cert: stranger } });
      expect(answer).toMatchObject({ status: "unavailable", message: expect.stringContaining(MISMATCH) });
    }
  });

  it("refuses a delegate's answer that names the issuer, whose key did not sign it", async () => {
    for (const by of ["name", "key"] as const) {
      const answer = await ask({ signer: delegate, certs: [delegate], responderId: { by, cert: root } });
      expect(answer).toMatchObject({ status: "unavailable", message: expect.stringContaining(MISMATCH) });
    }
  });
});
