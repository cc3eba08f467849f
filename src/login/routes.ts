import { createRoute, z } from "@hono/zod-openapi";
import { slug } from "../admin/organizations.ts";
import { rateLimited } from "../errors.ts";
import { createRouter, errorContent } from "../http/router.ts";
import type { Config } from "../config.ts";
import { clientCertificateChain, clientIp } from "../http/client-cert.ts";
import { tokenAnswer } from "../tokens/answer.ts";
import type { Login } from "./login.ts";
import { RateLimiter } from "./rate-limit.ts";

export const loginBody = z
  .strictObject({
    identityId: z.string().min(1).max(256).openapi({ description: "The ID of the machine identity to login." }),
    organizationSlug: slug.optional().openapi({
      description:
        "When set, this will scope the login session to the specified organization the machine identity has access to. If omitted, the session defaults to the organization where the machine identity was created in.",
    }),
  })
  .openapi("TlsCertAuthLoginRequest");

const loginAnswer = z.strictObject(tokenAnswer.shape).openapi("TlsCertAuthLoginResponse");

export const loginRoute = createRoute({
  method: "post",
  path: "/api/v1/auth/tls-cert-auth/login",
  operationId: "loginWithTlsCertAuth",
  tags: ["TLS Certificate Auth"],
  description: "Login with TLS Certificate Auth for machine identity",
  security: [],
  request: { body: { required: true, content: { "application/json": { schema: loginBody } } } },
  responses: {
    200: { description: "Default Response", content: { "application/json": { schema: loginAnswer } } },
    400: errorContent(400, "No client certificate, or a forwarded certificate that cannot be decoded"),
    401: errorContent(401, "The certificate was refused; the reason code is in the x-certauth-reason header"),
    403: errorContent(403, "Forbidden"),
    404: errorContent(404, "Identity, its TLS cert auth, or the organization not found"),
    422: errorContent(422, "Invalid body"),
    429: errorContent(429, "Too many login attempts from this client IP"),
    500: errorContent(500, "Internal error"),
    503: errorContent(503, "Database unavailable, or the CRL decoder has no room now for the CRLs of the identity's configuration (retry after Retry-After seconds)"),
  },
});

export function loginRoutes(deps: { config: Config; login: Login }) {
  const router = createRouter();
  const limiter = new RateLimiter(deps.config.LOGIN_RATE_LIMIT);

  // The limit is taken before the body is read, so a flood costs no parsing or database work.
  router.use(loginRoute.path, async (c, next) => {
    if (c.req.method !== "POST") return next();
    const retryAfter = limiter.hit(clientIp(c, deps.config));
    if (retryAfter > 0) {
      throw rateLimited("Too many login attempts from this address; retry later.", { headers: { "retry-after": String(retryAfter) } });
    }
    await next();
  });

  router.openapi(loginRoute, async (c) => {
    const body = c.req.valid("json");
    // Named in the request's log line whether the login succeeds or not.
    c.set("identityId", body.identityId);
    const answer = await deps.login({
      identityId: body.identityId,
      organizationSlug: body.organizationSlug,
      chain: () => clientCertificateChain(c, deps.config),
      clientIp: clientIp(c, deps.config),
    });
    return c.json(answer, 200);
  });
  return router;
}
