import { createPrivateKey, sign, type JsonWebKey } from "node:crypto";
import type { NativeSign } from "../tokens/signer.ts";

/** JWS signatures through node:crypto (Bun, Deno and Node all have it); ES256 as JWS wants it, raw r||s. */
export const nodeSign: NativeSign = (alg, privateJwk) => {
  const key = createPrivateKey({ key: privateJwk as JsonWebKey, format: "jwk" });
  switch (alg) {
    case "ES256":
      return (input) => sign("sha256", input, { key, dsaEncoding: "ieee-p1363" });
    case "RS256":
      return (input) => sign("sha256", input, key);
    case "EdDSA":
      return (input) => sign(null, input, key);
  }
};
