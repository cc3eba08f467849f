/**
 * Decoding of a client certificate forwarded by a proxy in an HTTP header, one format per file. Pure
 * functions: the caller decides whether the header may be read at all (only from a trusted proxy, see
 * ../client-cert.ts). The format is detected from the value.
 */
import { badRequest } from "../../errors.ts";
import { X509Certificate } from "../../pki/x509.ts";
import { checkSize, decodeBase64, MAX_FORWARDED_CERTIFICATES, tooMany, urlDecode, type Bytes } from "./common.ts";
import { decodePemBundle } from "./pem.ts";
import { decodeByteSequence, decodeRfc9440Chain } from "./rfc9440.ts";
import { decodeXfcc, XFCC_KEY } from "./xfcc.ts";

export { MAX_FORWARDED_CERTIFICATES, MAX_FORWARDED_VALUE_BYTES } from "./common.ts";

/** The DER chain (leaf first) a forwarded header value carries; throws a 400 when it cannot be used. */
export function decodeForwardedCertificate(value: string, chainValue?: string | null): Bytes[] {
  checkSize(value);
  const text = value.trim();
  if (text === "") throw badRequest("The forwarded client certificate header is empty.");
  let chain: Bytes[];
  if (XFCC_KEY.test(text)) chain = decodeXfcc(text);
  else {
    // Outside XFCC a comma never belongs to one value: it is how duplicated headers get joined.
    if (text.includes(",")) throw badRequest("The forwarded client certificate header has several values.");
    if (text.startsWith(":")) {
      chain = [decodeByteSequence(text)];
      if (chainValue != null) chain.push(...decodeRfc9440Chain(chainValue));
    } else if (/^-----BEGIN|^%2D%2D%2D%2D%2DBEGIN/i.test(text)) chain = decodePemBundle(urlDecode(text));
    else chain = [decodeBase64(text)];
  }
  return checkCertificates(chain);
}

function checkCertificates(chain: Bytes[]): Bytes[] {
  if (chain.length === 0) throw badRequest("The forwarded client certificate holds no certificate.");
  if (chain.length > MAX_FORWARDED_CERTIFICATES) throw tooMany();
  for (const der of chain) {
    try {
      new X509Certificate(der);
    } catch {
      throw badRequest("The forwarded value is not an X.509 certificate.");
    }
    // The parser ignores trailing bytes; they would change the fingerprint of the same certificate.
    if (outerLength(der) !== der.byteLength) throw badRequest("The forwarded certificate has trailing data.");
  }
  return chain;
}

/** Bytes covered by the outer SEQUENCE's tag and length (the certificate already parsed, so they are sound). */
function outerLength(der: Bytes): number {
  const first = der[1] ?? 0;
  if (first < 0x80) return 2 + first;
  const count = first & 0x7f;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + (der[2 + i] ?? 0);
  return 2 + count + length;
}
