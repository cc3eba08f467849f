/** RFC 9440: `Client-Cert: :base64-DER:`, intermediates in `Client-Cert-Chain`. */
import { checkSize, decodeBase64, MAX_FORWARDED_CERTIFICATES, notDecodable, tooMany, type Bytes } from "./common.ts";

/** `Client-Cert-Chain`: a list of `:base64:` items, intermediates only, nearest first. */
export function decodeRfc9440Chain(value: string): Bytes[] {
  checkSize(value);
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length > MAX_FORWARDED_CERTIFICATES) throw tooMany();
  return items.map(decodeByteSequence);
}

/** One RFC 8941 byte sequence, `:base64:`. */
export function decodeByteSequence(item: string): Bytes {
  const match = /^:([A-Za-z0-9+/=]*):$/.exec(item.trim());
  if (!match) throw notDecodable();
  return decodeBase64(match[1]!);
}
