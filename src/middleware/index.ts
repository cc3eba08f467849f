/**
 * `certauth/middleware`: protects a downstream Hono route with certauth access tokens. Verifies the Bearer token
 * against certauth's JWKS (given, or found through its OpenID discovery document from the issuer URL) or an
 * HS256 secret, checks `iss` and `aud` when configured to, the certificate binding of bound tokens (RFC 8705),
 * and optionally asks certauth's introspection endpoint whether the token is still active (revocation, use
 * limits). Web standards only: runs on Bun, Deno, Node and workers.
 */
import type { Context, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type RemoteJWKSetOptions,
} from "jose";
import { mappedClaimsOf, type MappedClaims } from "../claims/names.ts";
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
  /**
   * certauth's ISSUER_URL: every token must carry it as `iss`. Given as one string without `jwksUrl`, `jwks` or
   * `secret`, the JWKS is the `jwks_uri` of `<issuer>/.well-known/openid-configuration`, whose `issuer` must match.
   */
  issuer?: string | string[];
  /** The audience this service answers to: the token's `aud` must hold it (or one of these). */
  audience?: string | string[];
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

/** `c.var.certauth`: the verified claims; `c.var.certauthMappedClaims`: those of claimMappings alone. */
export type CertauthEnv = { Variables: { certauth: CertauthClaims; certauthMappedClaims: MappedClaims } };

/**
 * A Hono middleware that sets `c.var.certauth` to the verified claims, or answers 401; 503 when certauth's
 * discovery, JWKS or introspection cannot be had, so that a client does not drop a token that may be valid.
 */
export function certauthAuth(options: CertauthAuthOptions): MiddlewareHandler<CertauthEnv> {
  const doFetch = bounded(options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init)));
  const verifyWith = keyResolver(options, doFetch);
  const algorithms = options.secret ? ["HS256"] : ["EdDSA", "ES256", "RS256"];

  return createMiddleware<CertauthEnv>(async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (!token) return refuse(c, "invalid_request", "An Authorization: Bearer access token is required.");

    let claims: CertauthClaims;
    try {
      const { payload } = await jwtVerify(token, verifyWith as JWTVerifyGetKey, {
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: options.clockTolerance,
      });
      if (payload.authTokenType !== "identityAccessToken" || typeof payload.identityId !== "string") throw new Error("not an access token");
      claims = payload as CertauthClaims;
    } catch (err) {
      if (err instanceof KeysUnavailable) return unavailable(c, "certauth's signing keys could not be fetched to verify the token.");
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
        return unavailable(c, "certauth could not be reached to check the token.");
      }
      if (!active) return refuse(c, "invalid_token", "The access token is no longer active.");
    }

    c.set("certauth", claims);
    c.set("certauthMappedClaims", mappedClaimsOf(claims));
    await next();
  });
}

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

/** What the middleware reads of one answer (discovery, JWKS, introspection): far more than any real one. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** `doFetch` whose answers are read here, and refused past MAX_ANSWER_BYTES without reading the rest. */
function bounded(doFetch: Fetch): Fetch {
  return async (input, init) => {
    const res = await doFetch(input, init);
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = res.body?.getReader();
    for (let part = await reader?.read(); part && !part.done; part = await reader!.read()) {
      total += part.value.byteLength;
      if (total > MAX_ANSWER_BYTES) {
        await reader!.cancel().catch(() => {});
        throw new Error(`${input} answered more than ${MAX_ANSWER_BYTES} bytes`);
      }
      chunks.push(part.value);
    }
    const body = res.body === null ? null : new Blob(chunks as BlobPart[]);
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

function keyResolver(options: CertauthAuthOptions, doFetch: Fetch): JWTVerifyGetKey | Uint8Array {
  if (options.secret) return new TextEncoder().encode(options.secret);
  if (options.jwks) return createLocalJWKSet(options.jwks);
  const remote = (url: string | URL) =>
    createRemoteJWKSet(new URL(url), { ...options.jwksCache, [customFetch]: (input: string, init: RequestInit) => doFetch(input, init) });
  if (options.jwksUrl) return keysOrUnavailable(remote(options.jwksUrl));
  if (typeof options.issuer !== "string") throw new Error("certauthAuth needs jwksUrl, jwks, secret or one issuer URL");
  const issuer = options.issuer;
  // Discovered on first use; a failed discovery is tried again on the next request.
  let discovered: Promise<JWTVerifyGetKey> | undefined;
  return keysOrUnavailable(async (header, token) => {
    if (!discovered) {
      const attempt = discoverJwks(issuer, doFetch).then(remote);
      attempt.catch(() => {
        if (discovered === attempt) discovered = undefined;
      });
      discovered = attempt;
    }
    return (await discovered)(header, token);
  });
}

/** The issuer's discovery or JWKS could not be fetched or read: nothing is known about the token. */
class KeysUnavailable extends Error {}

/** Failures of the token (no key has its kid, or several) stay what they are; any other is KeysUnavailable. */
function keysOrUnavailable(getKey: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await getKey(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSENotSupported) throw err;
      throw new KeysUnavailable("certauth's keys could not be fetched", { cause: err });
    }
  };
}

/** The `jwks_uri` of the issuer's OpenID configuration, which must name the same issuer (OpenID Discovery §4.3). */
async function discoverJwks(issuer: string, doFetch: Fetch): Promise<string> {
  const res = await doFetch(`${issuer}/.well-known/openid-configuration`, { method: "GET", signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`OpenID configuration of ${issuer}: HTTP ${res.status}`);
  const document = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (document.issuer !== issuer || typeof document.jwks_uri !== "string") throw new Error(`OpenID configuration of ${issuer} names another issuer`);
  return document.jwks_uri;
}

/** Seconds a client is asked to wait: a failed discovery or JWKS fetch is tried again on the next request. */
const RETRY_AFTER_SECONDS = 5;

function unavailable(c: Context, message: string) {
  c.header("retry-after", String(RETRY_AFTER_SECONDS));
  return c.json({ error: "temporarily_unavailable", message }, 503);
}

function refuse(c: Context, error: "invalid_request" | "invalid_token", message: string) {
  c.header("www-authenticate", error === "invalid_request" ? "Bearer" : `Bearer error="${error}"`);
  return c.json({ error, message }, 401);
}
