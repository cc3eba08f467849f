/** Organizations, identities with TLS cert auth, client certificates and logins for the token suites. */
import { expect } from "bun:test";
import { makeCa, makeLeaf, type Issued } from "../fixtures/pki.ts";
import type { RunningService } from "../helpers/service.ts";
import type { CallResult } from "../helpers/https.ts";

export const LOGIN = "/api/v1/auth/tls-cert-auth/login";
export const SELF = "/api/v1/auth/token/self";
export const RENEW = "/api/v1/auth/token/renew";
export const REVOKE = "/api/v1/auth/token/revoke";
export const INTROSPECT = "/api/v1/auth/token/introspect";
export const JWKS = "/.well-known/jwks.json";

export const root = await makeCa({ subject: "CN=Token Tests Root" });
export const leafA = await makeLeaf({ issuer: root, cn: "svc-a" });
export const leafB = await makeLeaf({ issuer: root, cn: "svc-b" });

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function createOrg(svc: RunningService, slug = `org-${crypto.randomUUID().slice(0, 8)}`): Promise<string> {
  const res = await svc.admin("/api/v1/organizations", { body: { name: slug, slug } });
  expect(res.status).toBe(200);
  return res.json.organization.id;
}

/** An identity in `orgId` with TLS cert auth trusting `root`, plus `config`. */
export async function createIdentity(
  svc: RunningService,
  orgId: string,
  config: Record<string, unknown> = {},
  role: "admin" | "member" = "member",
): Promise<string> {
  const identity = await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId, role } });
  expect(identity.status).toBe(200);
  const id = identity.json.identity.id;
  const attached = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: root.pem, ...config } });
  expect(attached.status).toBe(200);
  return id;
}

export interface Login {
  accessToken: string;
  expiresIn: number;
  accessTokenMaxTTL: number;
  tokenType: "Bearer";
}

export async function login(svc: RunningService, identityId: string, leaf: Issued = leafA): Promise<Login> {
  const res = await svc.call(LOGIN, { body: { identityId }, cert: leaf.pem, key: leaf.keyPem });
  expect(res.status).toBe(200);
  return res.json;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
export const withCert = (leaf: Issued) => ({ cert: leaf.pem, key: leaf.keyPem });

export function self(svc: RunningService, token: string, leaf?: Issued): Promise<CallResult> {
  return svc.call(SELF, { headers: bearer(token), ...(leaf ? withCert(leaf) : {}) });
}

/** A refusal with the seed's error body and the reason code in `x-certauth-reason`. */
export function expectRefused(res: CallResult, status: 401 | 403, reason?: string) {
  expect(res.status).toBe(status);
  expect(res.json).toMatchObject({
    reqId: res.headers["x-request-id"],
    statusCode: status,
    error: status === 401 ? "UnauthorizedError" : "ForbiddenError",
    message: expect.any(String),
  });
  if (reason) expect(res.headers["x-certauth-reason"]).toBe(reason);
}
