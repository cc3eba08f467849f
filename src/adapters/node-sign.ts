import { createPrivateKey, sign, type JsonWebKey } from "node:crypto";
import type { NativeSign } from "../tokens/signer.ts";

/** JWS signatures through node:crypto (Bun, Deno and Node all have it); ES256 as JWS wants it, raw r||s. */
export const nodeSign: NativeSign = (alg, privateJwk) => {
  const key = createPrivateKey({ key: privateJwk as JsonWebKey, format: "jwk" });
  return alg === "ES256"
    ? (input) => sign("sha256", input, { key, dsaEncoding: "ieee-p1363" })
    : (input) => sign(null, input, key);
};
