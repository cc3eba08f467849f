/**
 * `certauth/middleware`: protects a downstream Hono route with certauth access tokens. Verifies the Bearer token
 * against certauth's JWKS (or an HS256 secret), checks the certificate binding of bound tokens (RFC 8705), and
 * optionally asks certauth's introspection endpoint whether the token is still active (revocation, use limits).
 * Web standards only: runs on Bun, Deno, Node and workers.
 */
import type { Context, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type RemoteJWKSetOptions,
} from "jose";
import { bearerToken } from "../http/bearer.ts";
import { certificateThumbprint } from "../tokens/binding.ts";
import type { AccessTokenClaims } from "../tokens/claims.ts";

/** The claims of a certauth access token (the ones login signs). */
export type CertauthClaims = AccessTokenClaims & JWTPayload;

export interface CertauthAuthOptions {
  /** certauth's `/.well-known/jwks.json`; fetched once, cached, and fetched again for an unknown kid. */
  jwksUrl?: string | URL;
  /** A JWKS held in memory instead of `jwksUrl`. */
  jwks?: JSONWebKeySet;
  /** The HS256 secret (certauth's AUTH_SECRET) when certauth runs with TOKEN_SIGNING_ALG=HS256. */
  secret?: string;
  /** Expected `iss`, when the tokens carry one. */
  issuer?: string | string[];
  /** certauth's `/api/v1/auth/token/introspect`: asked on every request, so a revoked token fails at once. */
  introspectUrl?: string | URL;
  /** DER of the request's client certificate; a bound token is refused without it. */
  getClientCertificate?: (c: Context) => Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Fetch used for the JWKS and introspection, e.g. one that trusts certauth's private CA. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** Passed to jose's remote JWKS cache (`cooldownDuration`, `cacheMaxAge`, `timeoutDuration`). */
  jwksCache?: Pick<RemoteJWKSetOptions, "cooldownDuration" | "cacheMaxAge" | "timeoutDuration">;
  clockTolerance?: number;
}

export type CertauthEnv = { Variables: { certauth: CertauthClaims } };

/** A Hono middleware that sets `c.var.certauth` to the verified claims, or answers 401. */
export function certauthAuth(options: CertauthAuthOptions): MiddlewareHandler<CertauthEnv> {
  const verifyWith = keyResolver(options);
  const algorithms = options.secret ? ["HS256"] : ["EdDSA", "ES256"];
  const doFetch = options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init));

  return createMiddleware<CertauthEnv>(async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (!token) return refuse(c, "invalid_request", "An Authorization: Bearer access token is required.");

    let claims: CertauthClaims;
    try {
      const { payload } = await jwtVerify(token, verifyWith as JWTVerifyGetKey, {
        algorithms,
        issuer: options.issuer,
        clockTolerance: options.clockTolerance,
      });
      if (payload.authTokenType !== "identityAccessToken" || typeof payload.identityId !== "string") throw new Error("not an access token");
      claims = payload as CertauthClaims;
    } catch {
      return refuse(c, "invalid_token", "The access token is not valid.");
    }

    const bound = claims.cnf?.["x5t#S256"];
    if (bound) {
      const der = await options.getClientCertificate?.(c);
      if (!der || (await certificateThumbprint(der)) !== bound) {
        return refuse(c, "invalid_token", "The access token is bound to a client certificate that this request did not present.");
      }
    }

    if (options.introspectUrl) {
      let active: boolean;
      try {
        const res = await doFetch(String(options.introspectUrl), {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ token }),
        });
        active = res.ok && (await res.json()).active === true;
      } catch {
        // Fail closed: without an answer, revocation cannot be ruled out.
        return c.json({ error: "temporarily_unavailable", message: "certauth could not be reached to check the token." }, 503);
      }
      if (!active) return refuse(c, "invalid_token", "The access token is no longer active.");
    }

    c.set("certauth", claims);
    await next();
  });
}

function keyResolver(options: CertauthAuthOptions): JWTVerifyGetKey | Uint8Array {
  if (options.secret) return new TextEncoder().encode(options.secret);
  if (options.jwks) return createLocalJWKSet(options.jwks);
  if (!options.jwksUrl) throw new Error("certauthAuth needs jwksUrl, jwks or secret");
  const fetchImpl = options.fetch;
  return createRemoteJWKSet(new URL(options.jwksUrl), {
    ...options.jwksCache,
    ...(fetchImpl ? { [customFetch]: (url: string, init: RequestInit) => fetchImpl(url, init) } : {}),
  });
}

function refuse(c: Context, error: "invalid_request" | "invalid_token", message: string) {
  c.header("www-authenticate", error === "invalid_request" ? "Bearer" : `Bearer error="${error}"`);
  return c.json({ error, message }, 401);
}
