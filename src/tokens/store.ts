import { and, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { identities, identityAccessTokens as tokens, identityTlsCertAuths as tlsCertAuths, organizations, type TrustedIp } from "../db/schema.ts";
import { canonicalIp } from "../net/ip.ts";

/** One token row with what a use needs to judge it: its identity, that identity's org, and the live TLS cert auth. */
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
  /** The client IP is inside the TLS cert auth's current `accessTokenTrustedIps`. */
  ipTrusted: boolean;
}

export type TokenLifetime = Pick<TokenState, "createdAt" | "accessTokenTTL" | "accessTokenMaxTTL">;

/** What the request brings to the checks the row judges. */
export interface UseCheck {
  now: Date;
  clientIp: string;
  /** The request's certificate matches the signed `cnf` claim (true for an unbound token). */
  claimMatches: boolean;
  /** Thumbprint of the request's leaf certificate, for a bound token. */
  presented: string | null;
}

/** The state a change was judged on (null: no such token, or its identity is gone), and what the change gave, if made. */
export type Judged<T> = { state: TokenState; outcome: T | null } | null;

/** Every statement on access-token rows; a change is made only on a row that passes every check at that instant. */
export interface TokenStore {
  /** The token's state without touching it; a null `clientIp` is trusted nowhere. */
  read(jti: string, clientIp: string | null): Promise<TokenState | null>;
  /** What the token's lifetime is computed from; none of it changes after login. */
  lifetime(jti: string): Promise<TokenLifetime | null>;
  /** Counts one use; the outcome is the uses counted so far, this one included. */
  use(jti: string, check: UseCheck): Promise<Judged<number>>;
  /** Extends the expiry to `expiresAt` (never shortens it). */
  renew(jti: string, check: UseCheck, expiresAt: Date): Promise<Judged<true>>;
  revoke(jti: string, at: Date): Promise<void>;
}

const jsonKey = (key: keyof TrustedIp) => sql.raw(`'${key}'`);
const instant = (name: string) => sql`${sql.placeholder(name)}::timestamptz`;

/** The statements, prepared once for `db`. */
export function tokenStore(db: Db): TokenStore {
  // The token joined to its identity (inner: a deleted identity leaves no row) and to the identity's current TLS
  // cert auth, whose trusted IPs are matched here, in the same statement as any change.
  const target = db.$with("target").as(
    db
      .select({
        id: tokens.id,
        orgId: tokens.orgId,
        identityId: sql`${identities.id}`.mapWith(identities.id).as("identity_id"),
        identityOrgId: sql`${identities.orgId}`.mapWith(identities.orgId).as("identity_org_id"),
        identityParentOrgId: organizations.parentOrgId,
        rootOrgId: organizations.rootOrgId,
        role: identities.role,
        authMethod: tokens.authMethod,
        createdAt: tokens.createdAt,
        expiresAt: tokens.expiresAt,
        revokedAt: tokens.revokedAt,
        numUses: tokens.numUses,
        numUsesLimit: tokens.numUsesLimit,
        accessTokenTTL: tokens.accessTokenTTL,
        accessTokenMaxTTL: tokens.accessTokenMaxTTL,
        certThumbprint: tokens.certThumbprint,
        configured: sql<boolean>`${tlsCertAuths.id} is not null`.as("configured"),
        ipTrusted: sql<boolean>`coalesce(${sql.placeholder("clientIp")}::inet <<= any (
          select ((e->>${jsonKey("ipAddress")}) || coalesce('/' || (e->>${jsonKey("prefix")}), ''))::inet
          from jsonb_array_elements(${tlsCertAuths.accessTokenTrustedIps}) e
        ), false)`.as("ip_trusted"),
      })
      .from(tokens)
      .innerJoin(identities, eq(identities.id, tokens.identityId))
      .innerJoin(organizations, eq(organizations.id, identities.orgId))
      .leftJoin(tlsCertAuths, eq(tlsCertAuths.identityId, tokens.identityId))
      .where(eq(tokens.id, sql.placeholder("jti"))),
  );

  // A use's checks after the signature, in one condition on the row being changed.
  const passes = and(
    eq(tokens.id, target.id),
    target.configured,
    target.ipTrusted,
    isNull(tokens.revokedAt),
    gt(tokens.expiresAt, instant("now")),
    or(eq(tokens.numUsesLimit, 0), lt(tokens.numUses, tokens.numUsesLimit)),
    sql`${sql.placeholder("claimMatches")}::boolean`,
    or(isNull(tokens.certThumbprint), eq(tokens.certThumbprint, sql`${sql.placeholder("presented")}::text`)),
  );

  const read = db.with(target).select().from(target).prepare("token_read");

  const lifetime = db
    .select({ createdAt: tokens.createdAt, accessTokenTTL: tokens.accessTokenTTL, accessTokenMaxTTL: tokens.accessTokenMaxTTL })
    .from(tokens)
    .where(eq(tokens.id, sql.placeholder("jti")))
    .prepare("token_lifetime");

  const used = db.$with("used").as(
    db
      .update(tokens)
      .set({ numUses: sql`${tokens.numUses} + 1` })
      .from(target)
      .where(passes)
      .returning({ numUses: tokens.numUses }),
  );
  const use = db
    .with(target, used)
    .select({ ...target._.selectedFields, outcome: sql<number | null>`(select ${used.numUses} from ${used})` })
    .from(target)
    .prepare("token_use");

  const renewed = db.$with("renewed").as(
    db
      .update(tokens)
      .set({ expiresAt: sql`greatest(${tokens.expiresAt}, ${instant("expiresAt")})`, lastRenewedAt: instant("now") })
      .from(target)
      .where(passes)
      .returning({ id: tokens.id }),
  );
  const renew = db
    .with(target, renewed)
    .select({ ...target._.selectedFields, renewed: sql<boolean>`exists (select from ${renewed})` })
    .from(target)
    .prepare("token_renew");

  const revoke = db
    .update(tokens)
    .set({ revokedAt: instant("at") })
    .where(and(eq(tokens.id, sql.placeholder("jti")), isNull(tokens.revokedAt)))
    .prepare("token_revoke");

  const values = (jti: string, check: UseCheck) => ({
    jti,
    // Text `inet` accepts; an unreadable address is null, which no trusted range contains.
    clientIp: canonicalIp(check.clientIp),
    now: check.now.toISOString(),
    claimMatches: check.claimMatches,
    presented: check.presented,
  });

  return {
    async read(jti, clientIp) {
      const [state] = await read.execute({ jti, clientIp: clientIp === null ? null : canonicalIp(clientIp) });
      return state ?? null;
    },
    async lifetime(jti) {
      const [row] = await lifetime.execute({ jti });
      return row ?? null;
    },
    async use(jti, check) {
      const [row] = await use.execute(values(jti, check));
      if (!row) return null;
      const { outcome, ...state } = row;
      return { state, outcome };
    },
    async renew(jti, check, expiresAt) {
      const [row] = await renew.execute({ ...values(jti, check), expiresAt: expiresAt.toISOString() });
      if (!row) return null;
      const { renewed, ...state } = row;
      return { state, outcome: renewed ? true : null };
    },
    async revoke(jti, at) {
      await revoke.execute({ jti, at: at.toISOString() });
    },
  };
}

