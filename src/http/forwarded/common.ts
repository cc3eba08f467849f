import { badRequest } from "../../errors.ts";

export const MAX_FORWARDED_VALUE_BYTES = 64 * 1024;
export const MAX_FORWARDED_CERTIFICATES = 16;

export type Bytes = Uint8Array<ArrayBuffer>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function decodeBase64(text: string): Bytes {
  if (!BASE64.test(text) || text.length === 0) throw notDecodable();
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** decodeURIComponent semantics: `+` stays `+` (it is base64, not a space). */
export function urlDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw notDecodable();
  }
}

export function checkSize(value: string) {
  if (value.length > MAX_FORWARDED_VALUE_BYTES) {
    throw badRequest(`The forwarded client certificate header is larger than ${MAX_FORWARDED_VALUE_BYTES / 1024} KiB.`);
  }
}

export const notDecodable = () => badRequest("The forwarded client certificate could not be decoded.");
export const tooMany = () => badRequest(`The forwarded chain holds more than ${MAX_FORWARDED_CERTIFICATES} certificates.`);
