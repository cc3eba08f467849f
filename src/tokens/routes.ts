import { createRoute, z } from "@hono/zod-openapi";
import { canManageOrg, matchesHash, type IdentityTokenAuthenticator } from "../admin/auth.ts";
import { mappedClaimsOf } from "../claims/names.ts";
import { forbidden, notFound, unauthorized } from "../errors.ts";
import { bearerToken } from "../http/bearer.ts";
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonOk } from "../http/router.ts";
import { tokenAnswer } from "./answer.ts";
import { discoveryDocument, openIdConfiguration } from "./discovery.ts";
import { introspectToken, type Introspector } from "./introspect.ts";
import { renewToken } from "./renew.ts";
import { revokeToken } from "./revoke.ts";
import type { TokenState } from "./store.ts";
import { tokenDeps, usesRemaining, useRequestOf, useToken, type TokenWiring } from "./use.ts";

export interface TokenRouteDeps extends TokenWiring {
  /** SHA-256 of the admin token: the admin may introspect any token. */
  adminTokenHash: Uint8Array;
  authenticateIdentityToken: IdentityTokenAuthenticator;
}

const jwt = z.string().min(1).max(8192);

const renewAnswer = tokenAnswer.openapi("AccessTokenRenewResponse");

/** Claims copied from the certificate by claimMappings (a string or a list of strings) appear beside the answer's members. */
const mappedClaim = z.unknown().openapi({ description: "A claim of claimMappings: a string, or a list of strings" });

const selfAnswer = z
  .object({
    identityId: z.string(),
    orgId: z.string(),
    rootOrgId: z.string(),
    authMethod: z.string(),
    identityAccessTokenId: z.string(),
    createdAt: z.string(),
    expiresAt: z.string().openapi({ description: "When the presented token expires" }),
    accessTokenTTL: z.number(),
    accessTokenMaxTTL: z.number(),
    numUses: z.number().openapi({ description: "Uses so far, this request included" }),
    numUsesLimit: z.number(),
    numUsesRemaining: z.number().nullable().openapi({ description: "null when the token has no use limit" }),
    certificateBound: z.boolean(),
    aud: z.union([z.string(), z.array(z.string())]).optional().openapi({ description: "The token's audiences (tokenAudiences)" }),
  })
  .catchall(mappedClaim)
  .openapi("AccessTokenSelf");

const introspection = z
  .object({
    active: z.boolean(),
    sub: z.string().optional(),
    exp: z.number().optional(),
    iat: z.number().optional(),
    jti: z.string().optional(),
    token_type: z.string().optional(),
    client_id: z.string().optional(),
    identityId: z.string().optional(),
    orgId: z.string().optional(),
    rootOrgId: z.string().optional(),
    authMethod: z.string().optional(),
    cnf: z.object({ "x5t#S256": z.string() }).optional(),
    iss: z.string().optional(),
    aud: z.union([z.string(), z.array(z.string())]).optional(),
    numUses: z.number().optional(),
    numUsesLimit: z.number().optional(),
    numUsesRemaining: z.number().nullable().optional(),
  })
  .catchall(mappedClaim)
  .openapi("AccessTokenIntrospection");

const jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi("JWKS");

/** Renew, revoke, self, introspect and the JWKS (PRODUCT §2.4). */
export function tokenRoutes(wiring: TokenRouteDeps) {
  const deps = { ...wiring, ...tokenDeps(wiring) };
  const router = createRouter();

  router.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/auth/token/renew",
      operationId: "renewAccessToken",
      tags: ["Tokens"],
      description: "Extends the token's life by its TTL, capped at its creation + max TTL; answers the time left; spends no use.",
      security: [],
      request: { body: jsonBody(z.strictObject({ accessToken: jwt })) },
      responses: { ...jsonOk(renewAnswer), ...errorResponses },
    }),
    async (c) => c.json(await renewToken(deps, c.req.valid("json").accessToken, useRequestOf(c, deps.config)), 200),
  );

  router.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/auth/token/revoke",
      operationId: "revokeAccessToken",
      tags: ["Tokens"],
      security: [],
      request: { body: jsonBody(z.strictObject({ accessToken: jwt })) },
      responses: { ...jsonOk(z.object({ message: z.string() })), ...errorResponses },
    }),
    async (c) => {
      await revokeToken(deps, c.req.valid("json").accessToken);
      return c.json({ message: "Successfully revoked access token" }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/auth/token/self",
      operationId: "getAccessTokenSelf",
      tags: ["Tokens"],
      description: "Describes the presented token; counts as one use.",
      security: bearerSecurity,
      responses: { ...jsonOk(selfAnswer), ...errorResponses },
    }),
    async (c) => {
      const token = bearerToken(c.req.header("authorization"));
      if (!token) throw unauthorized("An Authorization: Bearer access token is required.");
      const { claims, state, numUses } = await useToken(deps, token, useRequestOf(c, deps.config));
      c.set("identityId", state.identityId);
      return c.json(
        {
          ...mappedClaimsOf(claims),
          ...(claims.aud !== undefined ? { aud: claims.aud } : {}),
          identityId: state.identityId,
          orgId: state.orgId,
          rootOrgId: state.rootOrgId,
          authMethod: state.authMethod,
          identityAccessTokenId: state.id,
          createdAt: state.createdAt.toISOString(),
          expiresAt: new Date(claims.exp * 1000).toISOString(),
          accessTokenTTL: state.accessTokenTTL,
          accessTokenMaxTTL: state.accessTokenMaxTTL,
          numUses,
          numUsesLimit: state.numUsesLimit,
          numUsesRemaining: usesRemaining(state.numUsesLimit, numUses),
          certificateBound: state.certThumbprint !== null,
        },
        200,
      );
    },
  );

  router.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/auth/token/introspect",
      operationId: "introspectAccessToken",
      tags: ["Tokens"],
      description:
        "RFC 7662 style. The caller is the admin, an admin identity (tokens of the organizations it manages), or the token itself as Bearer. Spends no use of the inspected token.",
      security: bearerSecurity,
      request: { body: jsonBody(z.strictObject({ token: jwt })) },
      responses: { ...jsonOk(introspection), ...errorResponses },
    }),
    async (c) => {
      const { token } = c.req.valid("json");
      const caller = bearerToken(c.req.header("authorization"));
      if (!caller) throw unauthorized("An Authorization: Bearer token is required.");
      let introspector: Introspector;
      if (await matchesHash(caller, deps.adminTokenHash)) {
        introspector = { kind: "admin" };
      } else if (caller === token) {
        introspector = { kind: "self", request: useRequestOf(c, deps.config) };
      } else if (caller.split(".").length === 3) {
        const principal = await deps.authenticateIdentityToken(caller, c);
        if (principal.kind !== "identity" || principal.role !== "admin") throw forbidden("This identity does not have the admin role.");
        const mayInspect = (state: TokenState) => canManageOrg(principal, { id: state.identityOrgId, parentOrgId: state.identityParentOrgId });
        introspector = { kind: "scoped", mayInspect };
      } else {
        throw unauthorized("The bearer token is not valid.");
      }
      return c.json(await introspectToken(deps, token, introspector), 200);
    },
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/.well-known/openid-configuration",
      operationId: "getOpenIdConfiguration",
      tags: ["Tokens"],
      description:
        "OpenID Connect discovery: certauth as the issuer of its tokens (ISSUER_URL), for relying parties that verify them with the JWKS. 404 under HS256, whose tokens only the holder of AUTH_SECRET can verify.",
      security: [],
      responses: { ...jsonOk(discoveryDocument), ...errorResponses },
    }),
    async (c) => {
      const document = openIdConfiguration(deps.signer.issuer, deps.signer.alg);
      if (!document) throw notFound("certauth signs tokens with HS256, which relying parties cannot verify without the secret: no OpenID configuration.");
      c.header("cache-control", "public, max-age=300");
      return c.json(document, 200);
    },
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/.well-known/jwks.json",
      operationId: "getJwks",
      tags: ["Tokens"],
      description: "Public keys of current and recently rotated signing keys; empty under HS256.",
      security: [],
      responses: { ...jsonOk(jwks) },
    }),
    async (c) => {
      c.header("cache-control", "public, max-age=60");
      return c.json(await deps.signer.jwks(deps.clock()), 200);
    },
  );

  return router;
}
