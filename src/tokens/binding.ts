import { base64url } from "jose";
import { boundThumbprint, type AccessTokenClaims } from "./claims.ts";
import type { TokenState } from "./store.ts";

/** RFC 8705 `x5t#S256`: base64url of the SHA-256 of the certificate's DER. */
export async function certificateThumbprint(der: Uint8Array): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", der as BufferSource)));
}

export interface PresentedBinding {
  /** Thumbprint of the request's leaf certificate, computed only for a bound token. */
  presented: string | null;
  claimMatches: boolean;
  /** The request's certificate matches both the signed `cnf` claim and the row's thumbprint. */
  matches(state: TokenState): boolean;
}

/** The request's certificate against the token's binding; `leaf` is only read for a bound token. */
export async function presentedBinding(claims: AccessTokenClaims, leaf: () => Uint8Array | null): Promise<PresentedBinding> {
  const bound = boundThumbprint(claims);
  let presented: string | null = null;
  if (bound) {
    const der = leaf();
    presented = der ? await certificateThumbprint(der) : null;
  }
  const claimMatches = !bound || presented === bound;
  return {
    presented,
    claimMatches,
    matches: (state) => claimMatches && (state.certThumbprint === null || state.certThumbprint === presented),
  };
}
