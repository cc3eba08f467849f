import type { IdentityTokenAuthenticator } from "../admin/auth.ts";
import { tokenDeps, useToken, useRequestOf, type TokenWiring } from "./use.ts";

/**
 * For the admin API: one use of an identity access token, as the principal of its identity, scoped to the
 * identity's own organization (and so its sub-organizations). The role is checked by requireAdmin.
 */
export function identityTokenAuthenticator(wiring: TokenWiring): IdentityTokenAuthenticator {
  const deps = tokenDeps(wiring);
  return async (token, c) => {
    const { state } = await useToken(deps, token, useRequestOf(c, deps.config));
    c.set("identityId", state.identityId);
    return {
      kind: "identity",
      identityId: state.identityId,
      orgId: state.identityOrgId,
      rootOrgId: state.rootOrgId,
      role: state.role,
      tokenId: state.id,
    };
  };
}
