import { base64url } from "jose";

/** RFC 8705 `x5t#S256`: base64url of the SHA-256 of the certificate's DER. */
export async function certificateThumbprint(der: Uint8Array): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", der as BufferSource)));
}
