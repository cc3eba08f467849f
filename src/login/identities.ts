import { sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { GroupCommit, pgArray } from "../db/group-commit.ts";
import { isEmbedded } from "../db/prepared.ts";
import { identities, identityTlsCertAuths, organizations } from "../db/schema.ts";
import { jsonObject, namedStatement } from "../db/statement.ts";
import { ByteBudgetCache } from "../pki/lib/byte-budget-cache.ts";

const identity = jsonObject({ id: identities.id, orgId: identities.orgId });
const org = jsonObject({ id: organizations.id, slug: organizations.slug, rootOrgId: organizations.rootOrgId });
const tlsCertAuth = jsonObject({
  id: identityTlsCertAuths.id,
  // Every change moves updated_at: the version the TrustCache keys on and the token's write checks.
  version: identityTlsCertAuths.updatedAt,
  accessTokenTTL: identityTlsCertAuths.accessTokenTTL,
  accessTokenMaxTTL: identityTlsCertAuths.accessTokenMaxTTL,
  accessTokenNumUsesLimit: identityTlsCertAuths.accessTokenNumUsesLimit,
  bindTokensToCertificate: identityTlsCertAuths.bindTokensToCertificate,
  tokenAudiences: identityTlsCertAuths.tokenAudiences,
  claimMappings: identityTlsCertAuths.claimMappings,
});

/** The identity, its organization and the small columns of its TLS cert auth (CA and CRL text are read on a TrustCache miss). */
export interface IdentityRow {
  identity: typeof identity._.type;
  org: typeof org._.type;
  tlsCertAuth: typeof tlsCertAuth._.type | null;
}

/** Where the login finds an identity: `remembered` may be stale, `read` is current. */
export interface IdentityLookup {
  remembered(identityId: string): IdentityRow | undefined;
  read(identityId: string): Promise<IdentityRow | null>;
  forget(identityId: string): void;
}

const LOOKUP = sql`
  select json_build_object('identity', ${identity}, 'org', ${org},
                           'tlsCertAuth', case when ${identityTlsCertAuths.id} is null then null else ${tlsCertAuth} end)::text
  from ${identities}
  join ${organizations} on ${organizations.id} = ${identities.orgId}
  left join ${identityTlsCertAuths} on ${identityTlsCertAuths.identityId} = ${identities.id}
  where ${identities.id} = any(${sql.placeholder("ids")}::uuid[])`;

/**
 * Bytes of identity rows kept, least recently used going first: a row costs a few hundred bytes, more with
 * token audiences and claim mappings, so rows are charged by size (about ten thousand plain ones fit).
 */
const REMEMBERED_BYTES = 8 * 1024 * 1024;
/** A row's charge: its JSON as UTF-16 text plus the objects around it. */
const rowCost = (row: IdentityRow) => 2 * JSON.stringify(row).length + 256;
/** Lookups per statement at most. */
const MAX_BATCH = 64;
/** How long a batch of lookups may wait for more while the service is busy with other work. */
const MAX_WAIT_MS = 2;

/** Reads go through one statement shared by concurrent logins (group commit); rows with a TLS cert auth are remembered. */
export function identityLookup(db: Db): IdentityLookup {
  const lookup = namedStatement<"ids">(db, "certauth_login_lookup", LOOKUP);
  const rows = new ByteBudgetCache<string, IdentityRow>(REMEMBERED_BYTES);
  const reads = new GroupCommit<string, IdentityRow | null>(
    async (ids) => {
      const found = new Map<string, IdentityRow>();
      for (const [json] of await lookup({ ids: pgArray(ids) })) {
        const row = JSON.parse(json!) as IdentityRow;
        found.set(row.identity.id, row);
      }
      return ids.map((id) => found.get(id) ?? null);
    },
    { maxBatch: MAX_BATCH, concurrency: isEmbedded(db) ? 1 : 2, maxWaitMs: MAX_WAIT_MS },
  );
  return {
    remembered: (identityId) => rows.get(identityId),
    async read(identityId) {
      const row = await reads.submit(identityId);
      if (row?.tlsCertAuth) rows.set(identityId, row, rowCost(row));
      return row;
    },
    forget: (identityId) => rows.delete(identityId),
  };
}
