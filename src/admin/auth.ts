import { createMiddleware } from "hono/factory";
import { forbidden, unauthorized } from "../errors.ts";
import { bearerToken } from "../http/bearer.ts";
import type { AppEnv, Principal } from "../http/env.ts";

/** Turns an identity access token into a principal (and counts the use); rejects with an AppError. */
export type IdentityTokenAuthenticator = (token: string, c: Parameters<Parameters<typeof createMiddleware<AppEnv>>[0]>[0]) => Promise<Principal>;

export interface AdminAuthDeps {
  /** SHA-256 of the admin token. */
  adminTokenHash: Uint8Array;
  authenticateIdentityToken?: IdentityTokenAuthenticator;
}

/** Admin routes: the static admin token, or an identity token whose identity has the admin role. */
export function requireAdmin(deps: AdminAuthDeps) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (!token) throw unauthorized("An Authorization: Bearer token is required.");
    if (await matchesHash(token, deps.adminTokenHash)) {
      c.set("principal", { kind: "admin" });
    } else if (deps.authenticateIdentityToken && token.split(".").length === 3) {
      const principal = await deps.authenticateIdentityToken(token, c);
      if (principal.kind !== "identity" || principal.role !== "admin") {
        throw forbidden("This identity does not have the admin role.");
      }
      c.set("principal", principal);
    } else {
      throw unauthorized("The bearer token is not valid.");
    }
    await next();
  });
}

export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Constant-time: both sides are fixed-length digests, compared without an early exit. */
export async function matchesHash(presented: string, expected: Uint8Array): Promise<boolean> {
  const actual = await sha256(presented);
  let diff = actual.length ^ expected.length;
  for (let i = 0; i < actual.length; i++) diff |= actual[i]! ^ (expected[i] ?? 0);
  return diff === 0;
}

export interface OrgRef {
  id: string;
  parentOrgId: string | null;
}

/** An admin identity manages its own organization and that organization's sub-organizations. */
export function canManageOrg(principal: Principal, org: OrgRef): boolean {
  if (principal.kind === "admin") return true;
  return org.id === principal.orgId || org.parentOrgId === principal.orgId;
}

export function assertCanManageOrg(principal: Principal | undefined, org: OrgRef): void {
  if (!principal) throw unauthorized("Not authenticated.");
  if (!canManageOrg(principal, org)) throw forbidden("This identity may not manage that organization.");
}
