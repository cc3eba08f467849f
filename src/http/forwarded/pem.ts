/** URL-encoded or plain PEM, chain after the leaf (nginx `$ssl_client_escaped_cert`, AWS ALB, Infisical). */
import { badRequest } from "../../errors.ts";
import { PemConverter } from "../../pki/x509.ts";
import { MAX_FORWARDED_CERTIFICATES, notDecodable, tooMany, type Bytes } from "./common.ts";

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
