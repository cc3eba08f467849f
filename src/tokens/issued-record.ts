import { sql } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { AUTH_METHOD } from "../auth-method.ts";
import { LOGIN_SUCCEEDED } from "../audit/events.ts";
import type { Db } from "../db/client.ts";
import { GroupCommit, pgArray } from "../db/group-commit.ts";
import { isEmbedded, type TextParam } from "../db/prepared.ts";
import { auditLogs, identities, identityAccessTokens as tokens, identityTlsCertAuths, organizations } from "../db/schema.ts";
import { arrayOf, columnList, namedStatement } from "../db/statement.ts";
import { timeOrderedUuid } from "../uuid.ts";

/** One issued token, its audit event, and what it was verified against. */
export interface IssuedRecord {
  id: string;
  identityId: string;
  orgId: string;
  createdAt: Date;
  expiresAt: Date;
  accessTokenTTL: number;
  accessTokenMaxTTL: number;
  numUsesLimit: number;
  certThumbprint: string | null;
  configId: string;
  /** updated_at as the lookup read it. */
  configVersion: string;
  homeOrgId: string;
  homeOrgSlug: string;
  fingerprint: string;
  subject: string;
  clientIp: string;
}

/** Each field's parameter: one array per batch, typed as the column it is written to or compared with. */
const FIELDS = {
  id: tokens.id,
  identityId: tokens.identityId,
  orgId: tokens.orgId,
  createdAt: tokens.createdAt,
  expiresAt: tokens.expiresAt,
  accessTokenTTL: tokens.accessTokenTTL,
  accessTokenMaxTTL: tokens.accessTokenMaxTTL,
  numUsesLimit: tokens.numUsesLimit,
  certThumbprint: tokens.certThumbprint,
  configId: identityTlsCertAuths.id,
  configVersion: identityTlsCertAuths.updatedAt,
  homeOrgId: identities.orgId,
  homeOrgSlug: organizations.slug,
  fingerprint: auditLogs.certificateFingerprint,
  subject: auditLogs.certificateSubject,
  clientIp: auditLogs.clientIp,
  // The audit event's own id, made here: PostgreSQL's gen_random_uuid() reads the random device once per row.
  auditId: auditLogs.id,
} satisfies Record<keyof IssuedRecord | "auditId", PgColumn>;
type Field = keyof typeof FIELDS;
const NAMES = Object.keys(FIELDS) as Field[];

const b = (field: Field) => sql`b.${sql.identifier(field)}`;
const c = identityTlsCertAuths;

/**
 * A batch of issued tokens and their audit events, in one statement: for each login both rows are written
 * or neither. A login is written only if what it was verified against is still current: the same
 * configuration at the same version, the identity still in the same organization under the same slug.
 * The ids written come back; a missing one was stale.
 */
const RECORD_ISSUED = sql`
  with batch as (
    select * from unnest(${sql.join(NAMES.map((f) => sql`${sql.placeholder(f)}::${arrayOf(FIELDS[f])}`), sql`, `)})
      as b(${sql.join(NAMES.map((f) => sql.identifier(f)), sql`, `)})
  ), current as (
    select b.* from batch b
    join ${c} on ${c.id} = ${b("configId")} and ${c.identityId} = ${b("identityId")} and ${c.updatedAt} = ${b("configVersion")}
    join ${identities} on ${identities.id} = ${b("identityId")} and ${identities.orgId} = ${b("homeOrgId")}
    join ${organizations} on ${organizations.id} = ${identities.orgId} and ${organizations.slug} = ${b("homeOrgSlug")}
  ), issued as (
    insert into ${tokens} (${columnList(tokens.id, tokens.identityId, tokens.orgId, tokens.authMethod, tokens.createdAt,
                                        tokens.expiresAt, tokens.accessTokenTTL, tokens.accessTokenMaxTTL, tokens.numUsesLimit,
                                        tokens.certThumbprint)})
    select ${b("id")}, ${b("identityId")}, ${b("orgId")}, ${AUTH_METHOD}, ${b("createdAt")}, ${b("expiresAt")},
           ${b("accessTokenTTL")}, ${b("accessTokenMaxTTL")}, ${b("numUsesLimit")}, ${b("certThumbprint")} from current b
    returning ${tokens.id}
  ), audited as (
    insert into ${auditLogs} (${columnList(auditLogs.id, auditLogs.eventType, auditLogs.identityId, auditLogs.orgId,
                                           auditLogs.certificateFingerprint, auditLogs.certificateSubject, auditLogs.clientIp)})
    select ${b("auditId")}, ${LOGIN_SUCCEEDED}, ${b("identityId")}, ${b("orgId")}, ${b("fingerprint")}, ${b("subject")}, ${b("clientIp")} from current b
  )
  select ${sql.identifier(tokens.id.name)}::text from issued`;

const MAX_BATCH = 64;
/** How long a batch may wait for more logins while the service is busy (bench/profile.ts --tls: new connections). */
const MAX_WAIT_MS = 2;

const text = (value: IssuedRecord[keyof IssuedRecord]): TextParam =>
  value === null ? null : value instanceof Date ? value.toISOString() : String(value);

/** Writes records through one statement shared by concurrent logins (group commit); resolves false for a stale one. */
export function issuedRecords(db: Db): (record: IssuedRecord) => Promise<boolean> {
  const record = namedStatement<Field>(db, "certauth_login_record", RECORD_ISSUED);
  const writes = new GroupCommit<IssuedRecord, boolean>(
    async (records) => {
      const values = {} as Record<Field, TextParam>;
      for (const f of NAMES) values[f] = pgArray(f === "auditId" ? records.map(() => timeOrderedUuid()) : records.map((r) => text(r[f])));
      const written = new Set((await record(values)).map((r) => r[0]));
      return records.map((r) => written.has(r.id));
    },
    { maxBatch: MAX_BATCH, concurrency: isEmbedded(db) ? 1 : 2, maxWaitMs: MAX_WAIT_MS },
  );
  return (r) => writes.submit(r);
}
