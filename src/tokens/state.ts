import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { canonicalIp } from "../net/ip.ts";

/** One token row with what a use needs to judge it: its identity, that identity's org, and the live configuration. */
export interface TokenState {
  id: string;
  orgId: string;
  identityId: string;
  identityOrgId: string;
  identityParentOrgId: string | null;
  rootOrgId: string;
  role: "admin" | "member";
  authMethod: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  numUses: number;
  numUsesLimit: number;
  accessTokenTTL: number;
  accessTokenMaxTTL: number;
  certThumbprint: string | null;
  /** The identity still has TLS cert auth attached. */
  configured: boolean;
  /** The client IP is inside the configuration's current `accessTokenTrustedIps`. */
  ipTrusted: boolean;
}

/**
 * The `target` CTE: the token row joined to its identity (inner: a deleted identity has no rows left) and to
 * its current TLS cert auth configuration, whose trusted IPs are matched here, in the same statement.
 */
export function targetCte(jti: string, clientIp: string | null): SQL {
  return sql`target as (
    select t.id, t.org_id, t.auth_method, t.created_at, t.expires_at, t.revoked_at, t.num_uses, t.num_uses_limit,
           t.access_token_ttl, t.access_token_max_ttl, t.cert_thumbprint,
           i.id as identity_id, i.org_id as identity_org_id, i.role, o.parent_org_id as identity_parent_org_id, o.root_org_id,
           cfg.id is not null as configured,
           coalesce(${clientIp}::inet <<= any (
             select ((e->>'ipAddress') || coalesce('/' || (e->>'prefix'), ''))::inet
             from jsonb_array_elements(cfg.access_token_trusted_ips) e
           ), false) as ip_trusted
    from identity_access_tokens t
    join identities i on i.id = t.identity_id
    join organizations o on o.id = i.org_id
    left join identity_tls_cert_auths cfg on cfg.identity_id = t.identity_id
    where t.id = ${jti}::uuid
  )`;
}

/** The token's state without touching it (introspection). */
export async function readTokenState(db: Db, jti: string): Promise<TokenState | null> {
  const rows = rowsOf(await db.execute(sql`with ${targetCte(jti, null)} select * from target`));
  return rows[0] ? toState(rows[0]) : null;
}

/** An address PostgreSQL's `inet` accepts, or null (never trusted) for anything unreadable. */
export function inetOrNull(address: string): string | null {
  try {
    const canonical = canonicalIp(address);
    return canonical.includes("%") ? null : canonical;
  } catch {
    return null;
  }
}

/** postgres.js answers an array, PGlite `{ rows }`. */
export function rowsOf(result: unknown): Record<string, unknown>[] {
  if (Array.isArray(result)) return result as Record<string, unknown>[];
  return ((result as { rows?: Record<string, unknown>[] }).rows ?? []) as Record<string, unknown>[];
}

const date = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));

export function toState(r: Record<string, unknown>): TokenState {
  return {
    id: String(r.id),
    orgId: String(r.org_id),
    identityId: String(r.identity_id),
    identityOrgId: String(r.identity_org_id),
    identityParentOrgId: r.identity_parent_org_id == null ? null : String(r.identity_parent_org_id),
    rootOrgId: String(r.root_org_id),
    role: r.role === "admin" ? "admin" : "member",
    authMethod: String(r.auth_method),
    createdAt: date(r.created_at),
    expiresAt: date(r.expires_at),
    revokedAt: r.revoked_at == null ? null : date(r.revoked_at),
    numUses: Number(r.num_uses),
    numUsesLimit: Number(r.num_uses_limit),
    accessTokenTTL: Number(r.access_token_ttl),
    accessTokenMaxTTL: Number(r.access_token_max_ttl),
    certThumbprint: r.cert_thumbprint == null ? null : String(r.cert_thumbprint),
    configured: r.configured === true || r.configured === "t",
    ipTrusted: r.ip_trusted === true || r.ip_trusted === "t",
  };
}
