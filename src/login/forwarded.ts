/**
 * Decoding of a client certificate forwarded by a proxy in an HTTP header. Pure functions: the caller
 * decides whether the header may be read at all (only from a trusted proxy, see client-cert.ts).
 *
 * Formats, detected from the value:
 * - URL-encoded PEM, chain after the leaf (nginx `$ssl_client_escaped_cert`, AWS ALB, Infisical);
 * - RFC 9440 `:base64-DER:` (`Client-Cert`, intermediates in `Client-Cert-Chain`);
 * - plain base64 DER;
 * - Envoy `x-forwarded-client-cert` (`Cert="…"`, `Chain="…"`).
 */
import { badRequest } from "../errors.ts";
import { PemConverter, X509Certificate } from "../pki/x509.ts";

export const MAX_FORWARDED_VALUE_BYTES = 64 * 1024;
export const MAX_FORWARDED_CERTIFICATES = 16;

type Bytes = Uint8Array<ArrayBuffer>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const XFCC_KEY = /^\s*(?:By|Hash|Cert|Chain|Subject|URI|DNS)=/i;

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

/** RFC 9440 `Client-Cert-Chain`: a list of `:base64:` items, intermediates only, nearest first. */
export function decodeRfc9440Chain(value: string): Bytes[] {
  checkSize(value);
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length > MAX_FORWARDED_CERTIFICATES) throw tooMany();
  return items.map(decodeByteSequence);
}

/** The PEM blocks of a bundle, all of which must be CERTIFICATE blocks with nothing but whitespace around them. */
export function decodePemBundle(pem: string): Bytes[] {
  const normalized = pem.replace(/\r/g, "");
  // Counted first: the PEM scanner's cost grows with the number of BEGIN markers times the length.
  const begins = normalized.match(/-----BEGIN /g)?.length ?? 0;
  if (begins > MAX_FORWARDED_CERTIFICATES) throw tooMany();
  let blocks: ReturnType<typeof PemConverter.decodeWithHeaders>;
  try {
    blocks = PemConverter.decodeWithHeaders(normalized);
  } catch {
    throw notDecodable();
  }
  if (blocks.length === 0) throw badRequest("The forwarded client certificate holds no PEM block.");
  // The PEM scanner skips what it cannot read; a stray or nested BEGIN line must not go unnoticed.
  const ends = normalized.match(/-----END /g)?.length ?? 0;
  if (begins !== blocks.length || ends !== blocks.length) throw notDecodable();
  for (const block of blocks) {
    if (block.type !== "CERTIFICATE" || block.headers.length > 0) {
      throw badRequest(`The forwarded value holds a "${block.type}" PEM block, not a certificate.`);
    }
  }
  return blocks.map((b) => new Uint8Array(b.rawData));
}

/** Envoy XFCC: the last element is the one the nearest proxy added; its Cert is the leaf, Chain the whole chain. */
export function decodeXfcc(value: string): Bytes[] {
  const elements = splitOutsideQuotes(value, ",");
  const last = elements[elements.length - 1];
  if (last === undefined) throw notDecodable();
  const fields = new Map<string, string>();
  for (const pair of splitOutsideQuotes(last, ";")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw notDecodable();
    fields.set(pair.slice(0, eq).trim().toLowerCase(), unquote(pair.slice(eq + 1).trim()));
  }
  const cert = fields.get("cert");
  const chainPem = fields.get("chain");
  if (!cert && !chainPem) throw badRequest("The forwarded client certificate element carries neither Cert nor Chain.");
  const chain = chainPem ? decodePemBundle(urlDecode(chainPem)) : [];
  if (!cert) return chain;
  const leaf = decodePemBundle(urlDecode(cert));
  if (leaf.length !== 1) throw badRequest("The forwarded Cert field must hold exactly one certificate.");
  const [leafDer] = leaf as [Bytes];
  return [leafDer, ...chain.filter((der) => !sameBytes(der, leafDer))];
}

function decodeByteSequence(item: string): Bytes {
  const match = /^:([A-Za-z0-9+/=]*):$/.exec(item.trim());
  if (!match) throw notDecodable();
  return decodeBase64(match[1]!);
}

function decodeBase64(text: string): Bytes {
  if (!BASE64.test(text) || text.length === 0) throw notDecodable();
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** decodeURIComponent semantics: `+` stays `+` (it is base64, not a space). */
function urlDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw notDecodable();
  }
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

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted && ch === "\\" && i + 1 < text.length) {
      current += ch + text[++i];
    } else if (ch === '"') {
      quoted = !quoted;
      current += ch;
    } else if (ch === separator && !quoted) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  if (quoted) throw notDecodable();
  parts.push(current);
  return parts.map((p) => p.trim()).filter(Boolean);
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1).replace(/\\(.)/g, "$1");
  return value;
}

function sameBytes(a: Bytes, b: Bytes): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function checkSize(value: string) {
  if (value.length > MAX_FORWARDED_VALUE_BYTES) {
    throw badRequest(`The forwarded client certificate header is larger than ${MAX_FORWARDED_VALUE_BYTES / 1024} KiB.`);
  }
}

const notDecodable = () => badRequest("The forwarded client certificate could not be decoded.");
const tooMany = () => badRequest(`The forwarded chain holds more than ${MAX_FORWARDED_CERTIFICATES} certificates.`);
