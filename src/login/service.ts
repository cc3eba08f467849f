import { and, eq } from "drizzle-orm";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { prepareStatement, type PreparedStatement } from "../db/prepared.ts";
import { auditLogs, identityAccessTokens, identityMemberships, identityTlsCertAuths, organizations } from "../db/schema.ts";
import { AppError, badRequest, notFound, unauthorized } from "../errors.ts";
import { LOGIN_FAILED, LOGIN_SUCCEEDED, type AuditEvent } from "../audit/events.ts";
import { AUTH_METHOD, trustSettingsOf } from "../admin/tls-cert-auth.ts";
import { summarizeLeaf, TrustCache, verifyChain, type LeafSummary } from "../pki/index.ts";
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
  leaf: LeafSummary | null;
}

/**
 * One login: certificate → identity and its configuration (one query) → verification engine →
 * sub-organization scope → token, with the token row and the audit event written in one statement.
 * Failures past the body check are audited too, then rethrown.
 */
export async function login(deps: LoginDeps, request: LoginRequest): Promise<LoginAnswer> {
  const facts: AttemptFacts = { identityId: UUID.test(request.identityId) ? request.identityId.toLowerCase() : null, orgId: null, leaf: null };
  try {
    return await attempt(deps, request, facts);
  } catch (err) {
    if (err instanceof AppError) {
      await auditFailure(deps, request, facts, err.reasonCode ?? null);
    }
    throw err;
  }
}

async function attempt(deps: LoginDeps, request: LoginRequest, facts: AttemptFacts) {
  const { db, config, clock } = deps;
  const chain = request.chain();
  if (!chain || chain.length === 0) {
    throw badRequest(
      "No client certificate was presented in this connection's TLS handshake. Connect with a client certificate (mutual TLS) and without resuming an earlier TLS session.",
    );
  }
  facts.leaf = await summarizeLeaf(chain[0]!);
  if (!facts.leaf) throw badRequest("The client certificate could not be decoded.");
  if (!facts.identityId) throw notFound("Identity not found.");

  const row = await statementsFor(db).lookup(facts.identityId);
  if (!row) throw notFound("Identity not found.");
  facts.orgId = row.identity.orgId;
  const configuration = row.tlsCertAuth;
  if (!configuration) throw notFound("TLS cert auth is not attached to this identity.");

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
  const accessToken = await deps.signer.sign(
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
  await recordIssuedToken(db, {
    token: {
      id: jti,
      identityId: row.identity.id,
      orgId,
      authMethod: AUTH_METHOD,
      createdAt: new Date(iat * 1000),
      expiresAt: new Date((iat + lifetime) * 1000),
      accessTokenTTL: configuration.accessTokenTTL,
      accessTokenMaxTTL: configuration.accessTokenMaxTTL,
      numUsesLimit: configuration.accessTokenNumUsesLimit,
      certThumbprint: thumbprint,
    },
    audit: {
      eventType: LOGIN_SUCCEEDED,
      identityId: row.identity.id,
      orgId,
      reasonCode: null,
      certificateFingerprint: facts.leaf.fingerprint,
      certificateSubject: facts.leaf.subject,
      clientIp: request.clientIp,
    },
  });
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

type TokenRow = typeof identityAccessTokens.$inferInsert;

/** The identity, its organization and the small columns of its configuration; CA and CRL text only on a TrustCache miss. */
const LOOKUP = `
  select i.id::text, i.org_id::text, o.slug, o.root_org_id::text,
         c.id::text, c.updated_at::text, c.access_token_ttl::text, c.access_token_max_ttl::text,
         c.access_token_num_uses_limit::text, c.bind_tokens_to_certificate::text
  from identities i
  join organizations o on o.id = i.org_id
  left join identity_tls_cert_auths c on c.identity_id = i.id
  where i.id = $1`;

/** The token row and its audit event in one statement: both are written, or neither. */
const RECORD_ISSUED = `
  with issued as (
    insert into identity_access_tokens
      (id, identity_id, org_id, auth_method, created_at, expires_at, access_token_ttl, access_token_max_ttl, num_uses_limit, cert_thumbprint)
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    returning id
  )
  insert into audit_logs (event_type, identity_id, org_id, reason_code, certificate_fingerprint, certificate_subject, client_ip)
  select $11, $12, $13, $14, $15, $16, $17 from issued`;

interface LookupRow {
  identity: { id: string; orgId: string };
  org: { id: string; slug: string; rootOrgId: string };
  tlsCertAuth: {
    id: string;
    /** updated_at as the database prints it: part of the TrustCache key. */
    version: string;
    accessTokenTTL: number;
    accessTokenMaxTTL: number;
    accessTokenNumUsesLimit: number;
    bindTokensToCertificate: boolean;
  } | null;
}

/** The login's two hot statements, prepared once per database handle. */
const statements = new WeakMap<Db, { lookup: (identityId: string) => Promise<LookupRow | null>; record: PreparedStatement }>();
function statementsFor(db: Db) {
  let prepared = statements.get(db);
  if (!prepared) {
    const lookup = prepareStatement(db, "certauth_login_lookup", LOOKUP);
    prepared = {
      lookup: async (identityId) => {
        const [r] = await lookup([identityId]);
        if (!r) return null;
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
      },
      record: prepareStatement(db, "certauth_login_record", RECORD_ISSUED),
    };
    statements.set(db, prepared);
  }
  return prepared;
}

async function loadTrustSettings(db: Db, configId: string) {
  const [configuration] = await db.select().from(identityTlsCertAuths).where(eq(identityTlsCertAuths.id, configId)).limit(1);
  if (!configuration) throw notFound("TLS cert auth is not attached to this identity.");
  return trustSettingsOf(configuration);
}

async function recordIssuedToken(db: Db, rows: { token: TokenRow; audit: AuditEvent }) {
  const t = rows.token;
  const a = rows.audit;
  await statementsFor(db).record([
    t.id!, t.identityId, t.orgId, t.authMethod, t.createdAt!.toISOString(), t.expiresAt.toISOString(),
    String(t.accessTokenTTL), String(t.accessTokenMaxTTL), String(t.numUsesLimit ?? 0), t.certThumbprint ?? null,
    a.eventType, a.identityId ?? null, a.orgId ?? null, a.reasonCode ?? null,
    a.certificateFingerprint ?? null, a.certificateSubject ?? null, a.clientIp ?? null,
  ]);
}

async function auditFailure(deps: LoginDeps, request: LoginRequest, facts: AttemptFacts, reasonCode: string | null) {
  await deps.db.insert(auditLogs).values({
    eventType: LOGIN_FAILED,
    identityId: facts.identityId,
    orgId: facts.orgId,
    reasonCode,
    certificateFingerprint: facts.leaf?.fingerprint ?? null,
    certificateSubject: facts.leaf?.subject ?? null,
    clientIp: request.clientIp,
  });
}
