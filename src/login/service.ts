import { and, eq } from "drizzle-orm";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { isEmbedded, prepareStatement, type TextRow } from "../db/prepared.ts";
import { GroupCommit, pgArray } from "../db/group-commit.ts";
import { auditLogs, identityMemberships, identityTlsCertAuths, organizations } from "../db/schema.ts";
import { AppError, badRequest, notFound, unauthorized, unavailable } from "../errors.ts";
import { LOGIN_FAILED, LOGIN_SUCCEEDED } from "../audit/events.ts";
import { AUTH_METHOD, trustSettingsOf } from "../admin/tls-cert-auth.ts";
import { fingerprintLeaf, leafTooLarge, summarizeLeaf, TrustCache, verifyChain, type LeafSummary } from "../pki/index.ts";
import type { TokenSigner } from "../tokens/signer.ts";
import { initialLifetime } from "../tokens/lifetime.ts";
import { certificateThumbprint } from "../tokens/binding.ts";

export interface LoginRequest {
  identityId: string;
  organizationSlug?: string;
  /** DER, leaf first; null when the request carried no certificate. Throws a 400 for an undecodable forwarded one. */
  chain: () => Uint8Array[] | null;
  clientIp: string;
}

export interface LoginAnswer {
  accessToken: string;
  expiresIn: number;
  accessTokenMaxTTL: number;
  tokenType: "Bearer";
}

export interface LoginDeps {
  db: Db;
  config: Config;
  signer: TokenSigner;
  clock: () => Date;
  trustCache: TrustCache;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the audit event of a failed attempt records, known as far as the attempt got. */
interface AttemptFacts {
  identityId: string | null;
  orgId: string | null;
  /** The presented leaf's DER, fingerprinted for the audit event when it was refused before being parsed. */
  leafDer: Uint8Array | null;
  leaf: LeafSummary | null;
}

/**
 * One login: certificate present and within size → identity and its configuration (remembered, or one
 * query) → leaf parsed → verification engine → sub-organization scope → token, with the token row and the audit event written in one
 * statement that also checks the configuration is still the one verified against. Concurrent logins share
 * their statements (group commit).
 * Failures past the body check are audited too, then rethrown. Nothing presented is parsed or cached until
 * the identity and its configuration are known to exist: an unknown identity costs a hash, not memory.
 */
export async function login(deps: LoginDeps, request: LoginRequest): Promise<LoginAnswer> {
  const facts: AttemptFacts = { identityId: UUID.test(request.identityId) ? request.identityId.toLowerCase() : null, orgId: null, leafDer: null, leaf: null };
  try {
    return await attempt(deps, request, facts);
  } catch (err) {
    if (err instanceof AppError) {
      await auditFailure(deps, request, facts, err.reasonCode ?? null);
    }
    throw err;
  }
}

async function attempt(deps: LoginDeps, request: LoginRequest, facts: AttemptFacts): Promise<LoginAnswer> {
  const chain = request.chain();
  if (!chain || chain.length === 0) {
    throw badRequest(
      "No client certificate was presented for this connection's TLS session. Connect with a client certificate (mutual TLS); a resumed session has the certificate of the handshake that created it, or none.",
    );
  }
  const leafDer = (facts.leafDer = chain[0]!);
  const tooLarge = leafTooLarge(leafDer);
  if (tooLarge) throw badRequest(tooLarge);
  if (!facts.identityId) throw notFound("Identity not found.");
  const identityId = facts.identityId;

  // The identity and its configuration as last read: a guess the token's write checks (see RECORD_ISSUED).
  // A guess that turns out stale, or that refuses the certificate, is read again before anything is answered.
  const state = stateFor(deps.db);
  let row = state.rows.get(identityId);
  let cached = row !== undefined;
  for (let tries = 0; ; tries++) {
    if (!row) {
      row = (await state.lookup.submit(identityId)) ?? undefined;
      if (!row) throw notFound("Identity not found.");
      state.remember(identityId, row);
    }
    try {
      const answer = await issue(deps, request, facts, chain, row);
      if (answer) return answer;
    } catch (err) {
      if (!cached) throw err;
    }
    state.rows.delete(identityId);
    if (tries >= 2) throw unavailable("The identity's configuration changed during the login; try again.");
    row = undefined;
    cached = false;
  }
}

/** Verifies the chain against `row`'s configuration and issues the token; null when `row` is no longer current. */
async function issue(
  deps: LoginDeps,
  request: LoginRequest,
  facts: AttemptFacts,
  chain: Uint8Array[],
  row: LookupRow,
): Promise<LoginAnswer | null> {
  const { db, config, clock } = deps;
  facts.orgId = row.identity.orgId;
  const configuration = row.tlsCertAuth;
  if (!configuration) throw notFound("TLS cert auth is not attached to this identity.");
  const leaf = (facts.leaf ??= await summarizeLeaf(chain[0]!));
  if (!leaf) throw badRequest("The client certificate could not be decoded.");

  const now = clock();
  const trust = await deps.trustCache.get(`${configuration.id}:${configuration.version}`, () => loadTrustSettings(db, configuration.id));
  const verdict = await verifyChain(trust, chain, now);
  if (!verdict.ok) {
    if (verdict.reason === "bad_certificate") throw badRequest(verdict.message);
    throw unauthorized(verdict.message, verdict.reason);
  }

  const orgId = await scopeOrganization(db, row.identity.id, row.org, request.organizationSlug, facts);

  const lifetime = initialLifetime(configuration, config.MAX_TOKEN_TTL);
  const iat = Math.floor(now.getTime() / 1000);
  const jti = crypto.randomUUID();
  const thumbprint = configuration.bindTokensToCertificate ? await certificateThumbprint(chain[0]!) : null;
  const signing = deps.signer.sign(
    {
      sub: row.identity.id,
      identityId: row.identity.id,
      orgId,
      rootOrgId: row.org.rootOrgId,
      authMethod: AUTH_METHOD,
      authTokenType: "identityAccessToken",
      jti,
      identityAccessTokenId: jti,
      ...(thumbprint ? { cnf: { "x5t#S256": thumbprint } } : {}),
    },
    iat,
    iat + lifetime,
  );
  // Signing and the durable write overlap; nothing is answered before the write has committed.
  const written = await stateFor(db).record.submit({
    id: jti,
    identityId: row.identity.id,
    orgId,
    createdAt: new Date(iat * 1000).toISOString(),
    expiresAt: new Date((iat + lifetime) * 1000).toISOString(),
    accessTokenTTL: String(configuration.accessTokenTTL),
    accessTokenMaxTTL: String(configuration.accessTokenMaxTTL),
    numUsesLimit: String(configuration.accessTokenNumUsesLimit),
    certThumbprint: thumbprint,
    configId: configuration.id,
    configVersion: configuration.version,
    homeOrgId: row.org.id,
    homeOrgSlug: row.org.slug,
    fingerprint: leaf.fingerprint,
    subject: leaf.subject,
    clientIp: request.clientIp,
  });
  const accessToken = await signing;
  if (!written) return null;
  return { accessToken, expiresIn: lifetime, accessTokenMaxTTL: configuration.accessTokenMaxTTL, tokenType: "Bearer" as const };
}

/** The organization the token is for: the identity's own, or a sub-organization it is a member of. */
async function scopeOrganization(
  db: Db,
  identityId: string,
  org: { id: string; slug: string },
  slug: string | undefined,
  facts: AttemptFacts,
): Promise<string> {
  if (slug === undefined || slug === org.slug) return org.id;
  const [sub] = await db
    .select({ id: organizations.id, member: identityMemberships.identityId })
    .from(organizations)
    .leftJoin(
      identityMemberships,
      and(eq(identityMemberships.orgId, organizations.id), eq(identityMemberships.identityId, identityId)),
    )
    .where(and(eq(organizations.parentOrgId, org.id), eq(organizations.slug, slug)))
    .limit(1);
  if (!sub) throw notFound(`Organization "${slug}" not found for this identity.`);
  facts.orgId = sub.id;
  if (!sub.member) throw unauthorized("This identity is not a member of that sub-organization.", "sub_org_unauthorized");
  return sub.id;
}

/** The identity, its organization and the small columns of its configuration; CA and CRL text only on a TrustCache miss. */
const LOOKUP = `
  select i.id::text, i.org_id::text, o.slug, o.root_org_id::text,
         c.id::text, c.updated_at::text, c.access_token_ttl::text, c.access_token_max_ttl::text,
         c.access_token_num_uses_limit::text, c.bind_tokens_to_certificate::text
  from identities i
  join organizations o on o.id = i.org_id
  left join identity_tls_cert_auths c on c.identity_id = i.id
  where i.id = any($1::uuid[])`;

/**
 * A batch of issued tokens and their audit events, in one statement: for each login both rows are written
 * or neither. A login is written only if what it was verified against is still current: the same
 * configuration at the same version (every change moves updated_at), the identity still in the same
 * organization under the same slug. The ids written come back; a missing one was stale.
 */
const RECORD_ISSUED = `
  with batch as (
    select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::timestamptz[], $6::int[], $7::int[],
                         $8::int[], $9::text[], $10::uuid[], $11::timestamptz[], $12::uuid[], $13::text[], $14::text[],
                         $15::text[], $16::text[])
      as b(id, identity_id, org_id, created_at, expires_at, ttl, max_ttl, uses_limit, thumbprint,
           config_id, config_version, home_org_id, home_org_slug, fingerprint, subject, client_ip)
  ), current as (
    select b.* from batch b
    join identity_tls_cert_auths c on c.id = b.config_id and c.identity_id = b.identity_id and c.updated_at = b.config_version
    join identities i on i.id = b.identity_id and i.org_id = b.home_org_id
    join organizations o on o.id = i.org_id and o.slug = b.home_org_slug
  ), issued as (
    insert into identity_access_tokens
      (id, identity_id, org_id, auth_method, created_at, expires_at, access_token_ttl, access_token_max_ttl, num_uses_limit, cert_thumbprint)
    select id, identity_id, org_id, $17, created_at, expires_at, ttl, max_ttl, uses_limit, thumbprint from current
    returning id
  ), audited as (
    insert into audit_logs (event_type, identity_id, org_id, certificate_fingerprint, certificate_subject, client_ip)
    select $18, identity_id, org_id, fingerprint, subject, client_ip from current
  )
  select id::text from issued`;

interface LookupRow {
  identity: { id: string; orgId: string };
  org: { id: string; slug: string; rootOrgId: string };
  tlsCertAuth: {
    id: string;
    /** updated_at as the database prints it: part of the TrustCache key, and checked when the token is written. */
    version: string;
    accessTokenTTL: number;
    accessTokenMaxTTL: number;
    accessTokenNumUsesLimit: number;
    bindTokensToCertificate: boolean;
  } | null;
}

/** One issued token as RECORD_ISSUED takes it: every value in text form. */
interface IssuedRecord {
  id: string;
  identityId: string;
  orgId: string;
  createdAt: string;
  expiresAt: string;
  accessTokenTTL: string;
  accessTokenMaxTTL: string;
  numUsesLimit: string;
  certThumbprint: string | null;
  configId: string;
  configVersion: string;
  homeOrgId: string;
  homeOrgSlug: string;
  fingerprint: string;
  subject: string;
  clientIp: string;
}

/** Identities whose last-read rows are kept; past it the oldest go. A row costs a few hundred bytes. */
const REMEMBERED_ROWS = 10_000;
/** Logins per statement at most. */
const MAX_BATCH = 64;

interface LoginState {
  lookup: GroupCommit<string, LookupRow | null>;
  record: GroupCommit<IssuedRecord, boolean>;
  rows: Map<string, LookupRow>;
  remember(identityId: string, row: LookupRow): void;
}

/** Per database handle: the login's two statements (prepared once, batched) and the last-read rows. */
const states = new WeakMap<Db, LoginState>();
function stateFor(db: Db): LoginState {
  let state = states.get(db);
  if (state) return state;
  const concurrency = isEmbedded(db) ? 1 : 2;
  const lookup = prepareStatement(db, "certauth_login_lookup", LOOKUP);
  const record = prepareStatement(db, "certauth_login_record", RECORD_ISSUED);
  const rows = new Map<string, LookupRow>();
  state = {
    rows,
    remember(identityId, row) {
      if (!row.tlsCertAuth) return;
      if (rows.size >= REMEMBERED_ROWS) rows.delete(rows.keys().next().value!);
      rows.set(identityId, row);
    },
    lookup: new GroupCommit(
      async (ids) => {
        const found = new Map<string, LookupRow>();
        for (const r of await lookup([pgArray(ids)])) {
          const row = lookupRow(r);
          found.set(row.identity.id, row);
        }
        return ids.map((id) => found.get(id) ?? null);
      },
      { maxBatch: MAX_BATCH, concurrency },
    ),
    record: new GroupCommit(
      async (records) => {
        const column = (pick: (r: IssuedRecord) => string | null) => pgArray(records.map(pick));
        const written = await record([
          column((r) => r.id), column((r) => r.identityId), column((r) => r.orgId), column((r) => r.createdAt),
          column((r) => r.expiresAt), column((r) => r.accessTokenTTL), column((r) => r.accessTokenMaxTTL),
          column((r) => r.numUsesLimit), column((r) => r.certThumbprint), column((r) => r.configId),
          column((r) => r.configVersion), column((r) => r.homeOrgId), column((r) => r.homeOrgSlug),
          column((r) => r.fingerprint), column((r) => r.subject), column((r) => r.clientIp),
          AUTH_METHOD, LOGIN_SUCCEEDED,
        ]);
        const ids = new Set(written.map((r) => r[0]));
        return records.map((r) => ids.has(r.id));
      },
      { maxBatch: MAX_BATCH, concurrency },
    ),
  };
  states.set(db, state);
  return state;
}

function lookupRow(r: TextRow): LookupRow {
  const [id, orgId, slug, rootOrgId, configId, version, ttl, maxTtl, usesLimit, bind] = r;
  return {
    identity: { id: id!, orgId: orgId! },
    org: { id: orgId!, slug: slug!, rootOrgId: rootOrgId! },
    tlsCertAuth:
      configId == null
        ? null
        : {
            id: configId,
            version: version!,
            accessTokenTTL: Number(ttl),
            accessTokenMaxTTL: Number(maxTtl),
            accessTokenNumUsesLimit: Number(usesLimit),
            bindTokensToCertificate: bind === "true",
          },
  };
}

async function loadTrustSettings(db: Db, configId: string) {
  const [configuration] = await db.select().from(identityTlsCertAuths).where(eq(identityTlsCertAuths.id, configId)).limit(1);
  if (!configuration) throw notFound("TLS cert auth is not attached to this identity.");
  return trustSettingsOf(configuration);
}

async function auditFailure(deps: LoginDeps, request: LoginRequest, facts: AttemptFacts, reasonCode: string | null) {
  const fingerprint = facts.leaf?.fingerprint ?? (facts.leafDer ? await fingerprintLeaf(facts.leafDer) : null);
  await deps.db.insert(auditLogs).values({
    eventType: LOGIN_FAILED,
    identityId: facts.identityId,
    orgId: facts.orgId,
    reasonCode,
    certificateFingerprint: fingerprint,
    certificateSubject: facts.leaf?.subject ?? null,
    clientIp: request.clientIp,
  });
}
