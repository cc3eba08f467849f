import { sql } from "drizzle-orm";
import {
  boolean,
  customType,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";

const createdAt = () => timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();
const updatedAt = () => timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();

export const organizations = pgTable(
  "organizations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    slug: text("slug").notNull(),
    parentOrgId: uuid("parent_org_id").references((): any => organizations.id, { onDelete: "cascade" }),
    rootOrgId: uuid("root_org_id").notNull(),
    createdAt: createdAt(),
  },
  (t) => [unique("organizations_parent_slug_unique").on(t.parentOrgId, t.slug).nullsNotDistinct()],
);

export const identities = pgTable(
  "identities",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["admin", "member"] }).notNull().default("member"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [check("identities_role_check", sql`${t.role} in ('admin', 'member')`), index("identities_org_idx").on(t.orgId)],
);

/** A root-organization identity's access to one of its sub-organizations. */
export const identityMemberships = pgTable(
  "identity_memberships",
  {
    identityId: uuid("identity_id")
      .notNull()
      .references(() => identities.id, { onDelete: "cascade" }),
    orgId: uuid("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["admin", "member"] }).notNull().default("member"),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.identityId, t.orgId] })],
);

/** As Infisical stores it: `prefix` only for a range, whose `ipAddress` then holds the address without it. */
export type TrustedIp = { ipAddress: string; type: "ipv4" | "ipv6"; prefix?: number };

export const identityTlsCertAuths = pgTable("identity_tls_cert_auths", {
  id: uuid("id").primaryKey().defaultRandom(),
  identityId: uuid("identity_id")
    .notNull()
    .unique()
    .references(() => identities.id, { onDelete: "cascade" }),
  caCertificate: text("ca_certificate").notNull(),
  allowedCommonNames: text("allowed_common_names"),
  allowedSubjectAltNames: jsonb("allowed_subject_alt_names").$type<string[]>(),
  allowedOrganizations: jsonb("allowed_organizations").$type<string[]>(),
  allowedOrganizationalUnits: jsonb("allowed_organizational_units").$type<string[]>(),
  verifyClientCertificateChain: boolean("verify_client_certificate_chain").notNull().default(false),
  crls: text("crls"),
  crlUrls: jsonb("crl_urls").$type<string[]>(),
  /** The soonest nextUpdate of the uploaded `crls`, for certauth_crl_next_update_seconds (null: none has one). */
  crlsNextUpdate: timestamp("crls_next_update", { withTimezone: true, mode: "date" }),
  useCrlDistributionPoints: boolean("use_crl_distribution_points").notNull().default(false),
  ocspEnabled: boolean("ocsp_enabled").notNull().default(false),
  ocspServersOverride: jsonb("ocsp_servers_override").$type<string[]>(),
  ocspFailOpen: boolean("ocsp_fail_open").notNull().default(false),
  ocspQueryAllServers: boolean("ocsp_query_all_servers").notNull().default(false),
  ocspMaxRetries: integer("ocsp_max_retries").notNull().default(4),
  ocspThisUpdateMaxAge: integer("ocsp_this_update_max_age").notNull().default(0),
  bindTokensToCertificate: boolean("bind_tokens_to_certificate").notNull().default(false),
  requiredExtensions: jsonb("required_extensions").$type<string[]>(),
  /** The tokens' `aud`. */
  tokenAudiences: jsonb("token_audiences").$type<string[]>(),
  /** `{ claimName: source }`: values of the verified leaf copied into the tokens. */
  claimMappings: jsonb("claim_mappings").$type<Record<string, string>>(),
  accessTokenTrustedIps: jsonb("access_token_trusted_ips").$type<TrustedIp[]>().notNull(),
  accessTokenTTL: integer("access_token_ttl").notNull(),
  accessTokenMaxTTL: integer("access_token_max_ttl").notNull(),
  accessTokenNumUsesLimit: integer("access_token_num_uses_limit").notNull().default(0),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const identityAccessTokens = pgTable(
  "identity_access_tokens",
  {
    /** The token's `jti`. */
    id: uuid("id").primaryKey().defaultRandom(),
    identityId: uuid("identity_id")
      .notNull()
      .references(() => identities.id, { onDelete: "cascade" }),
    orgId: uuid("org_id").notNull(),
    authMethod: text("auth_method").notNull(),
    /** Anchor of the max TTL: a token never lives past createdAt + accessTokenMaxTTL. */
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    accessTokenTTL: integer("access_token_ttl").notNull(),
    accessTokenMaxTTL: integer("access_token_max_ttl").notNull(),
    numUses: integer("num_uses").notNull().default(0),
    numUsesLimit: integer("num_uses_limit").notNull().default(0),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
    /** base64url SHA-256 of the leaf DER for certificate-bound tokens (RFC 8705 `x5t#S256`). */
    certThumbprint: text("cert_thumbprint"),
    lastRenewedAt: timestamp("last_renewed_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [index("identity_access_tokens_identity_idx").on(t.identityId)],
);

export const signingKeys = pgTable("signing_keys", {
  kid: text("kid").primaryKey(),
  alg: text("alg").notNull(),
  publicJwk: jsonb("public_jwk").$type<Record<string, unknown>>().notNull(),
  /** The private JWK, encrypted with the key-encryption key (AES-GCM). */
  privateKeyEnc: text("private_key_enc").notNull(),
  createdAt: createdAt(),
  /** Set when a newer key takes over; the key stays published until `publishUntil`. */
  retiredAt: timestamp("retired_at", { withTimezone: true, mode: "date" }),
  publishUntil: timestamp("publish_until", { withTimezone: true, mode: "date" }),
});

/** Service-wide values shared by every instance (admin token hash, generated HS256 secret). */
export const settings = pgTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  createdAt: createdAt(),
});

export const auditLogs = pgTable(
  "audit_logs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    eventType: text("event_type").notNull(),
    identityId: uuid("identity_id"),
    orgId: uuid("org_id"),
    reasonCode: text("reason_code"),
    certificateFingerprint: text("certificate_fingerprint"),
    certificateSubject: text("certificate_subject"),
    clientIp: text("client_ip"),
    createdAt: createdAt(),
  },
  (t) => [index("audit_logs_identity_created_idx").on(t.identityId, t.createdAt), index("audit_logs_created_idx").on(t.createdAt)],
);

const bytea = customType<{ data: Uint8Array<ArrayBuffer>; driverData: Uint8Array }>({
  dataType: () => "bytea",
  fromDriver: (value) => new Uint8Array(value),
});

/**
 * The last good CRL fetched from each of a configuration's `crlUrls`, and from each CRL distribution point a
 * login needed (`useCrlDistributionPoints`), shared by every instance.
 */
export const fetchedCrls = pgTable(
  "fetched_crls",
  {
    configId: uuid("config_id")
      .notNull()
      .references(() => identityTlsCertAuths.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    /** "url" (one of crlUrls) or "distribution_point" (named by a certificate on a verified path). */
    source: text("source", { enum: ["url", "distribution_point"] }).notNull().default("url"),
    der: bytea("der").notNull(),
    etag: text("etag"),
    lastModified: text("last_modified"),
    thisUpdate: timestamp("this_update", { withTimezone: true, mode: "date" }).notNull(),
    nextUpdate: timestamp("next_update", { withTimezone: true, mode: "date" }),
    lastFetchedAt: timestamp("last_fetched_at", { withTimezone: true, mode: "date" }).notNull(),
    /** "ok", "not_modified", or the sentence of the last failure. */
    lastStatus: text("last_status").notNull(),
    failures: integer("failures").notNull().default(0),
    /** When an instance may claim the next fetch (claimed by moving it forward). */
    nextFetchAt: timestamp("next_fetch_at", { withTimezone: true, mode: "date" }).notNull(),
    /** When a login last needed this CRL (written at most every few minutes); unused distribution points are forgotten. */
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [primaryKey({ columns: [t.configId, t.url] }), index("fetched_crls_next_fetch_idx").on(t.nextFetchAt)],
);
