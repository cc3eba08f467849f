import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, sql } from "drizzle-orm";
import { badRequest, notFound } from "../errors.ts";
import type { Db } from "../db/client.ts";
import { identityAccessTokens, identityTlsCertAuths, type TrustedIp } from "../db/schema.ts";
import { bearerSecurity, createRouter, errorContent, errorResponses, jsonBody, jsonOk } from "../http/router.ts";
import { assertCryptoPolicy, compileTrust, type CrlDecoder, type TrustSettings } from "../pki/index.ts";
import { ANYWHERE, toTrustedIp, trustedIpInput, type TrustedIpInput } from "./trusted-ips.ts";
import { loadManagedIdentity } from "./identities.ts";
import { isUniqueViolation } from "./db-errors.ts";
import { AUTH_METHOD } from "../auth-method.ts";
import type { Principal } from "../http/env.ts";
import { assertClaimMappings, MAX_CLAIM_MAPPINGS, refusePrototypeName } from "../claims/mappings.ts";
import { answerForAdmin, fetchedCrlStatus, fetchForAttach, loadFetchedCrls, replaceFetchedCrls, type CrlSource } from "../revocation/crls.ts";

/** Attach and PATCH decode the CRLs they are given: a decoder with no room answers 503 with Retry-After. */
const CRL_BUSY = errorContent(503, "Database unavailable, or the CRL decoder has no room for another CRL now (retry after Retry-After seconds)");

const TTL_LIMIT = 315_360_000;
const DEFAULT_TTL = 2_592_000;

const ttl = z.number().int().min(0).max(TTL_LIMIT);
const nameList = z.array(z.string().trim().min(1).max(1024)).max(256).nullable();
const trustedIpsInput = z.array(trustedIpInput).min(1).max(256);
/** As Infisical does: "a, b" is stored and read back as "a,b". */
const commaList = (value: string) =>
  value
    .split(",")
    .map((entry) => entry.trim())
    .join(",");

const fields = {
  caCertificate: z.string().min(1).max(65_536),
  allowedCommonNames: z.string().max(4096).overwrite(commaList).nullable(),
  allowedSubjectAltNames: nameList,
  allowedOrganizations: nameList,
  allowedOrganizationalUnits: nameList,
  verifyClientCertificateChain: z.boolean(),
  crls: z.string().min(1).nullable(),
  crlUrls: z
    .array(z.url({ protocol: /^https?$/, error: "must be an http or https URL" }).max(2048))
    .max(8)
    .refine((urls) => new Set(urls).size === urls.length, "must not repeat a URL")
    .nullable(),
  useCrlDistributionPoints: z.boolean(),
  ocspEnabled: z.boolean(),
  ocspServersOverride: z
    .array(z.url({ protocol: /^https?$/, error: "must be an http or https URL" }).max(2048))
    .min(1)
    .max(8)
    .refine((urls) => new Set(urls).size === urls.length, "must not repeat a URL")
    .nullable(),
  ocspFailOpen: z.boolean(),
  ocspQueryAllServers: z.boolean(),
  ocspMaxRetries: z.number().int().min(0).max(10),
  ocspThisUpdateMaxAge: z.number().int().min(0).max(TTL_LIMIT),
  bindTokensToCertificate: z.boolean(),
  // Entries are checked as the trust compiles (400 naming the entry).
  requiredExtensions: z.array(z.string().min(1).max(1024)).max(32).nullable(),
  // Printable ASCII but " and \ (escaped, they take twice their length): eight audiences stay at most 2 KiB of a token's JSON.
  tokenAudiences: z
    .array(z.string().min(1).max(256).regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be printable ASCII without spaces, " or \\'))
    .min(1)
    .max(8)
    .refine((list) => new Set(list).size === list.length, "must not repeat an audience")
    .nullable(),
  // Names and sources are checked with the rest of the settings (400 naming the entry); `__proto__` before zod drops it.
  claimMappings: z.preprocess(
    refusePrototypeName,
    z
      .record(z.string().max(256), z.string().max(256))
      .refine((m) => Object.keys(m).length <= MAX_CLAIM_MAPPINGS, `must have at most ${MAX_CLAIM_MAPPINGS} claims`)
      .nullable(),
  ),
  accessTokenTrustedIps: trustedIpsInput,
  accessTokenTTL: ttl,
  accessTokenMaxTTL: ttl,
  accessTokenNumUsesLimit: z.number().int().min(0).max(2_147_483_647),
};

export const attachBody = z.strictObject({
  caCertificate: fields.caCertificate,
  allowedCommonNames: fields.allowedCommonNames.optional(),
  allowedSubjectAltNames: fields.allowedSubjectAltNames.optional(),
  allowedOrganizations: fields.allowedOrganizations.optional(),
  allowedOrganizationalUnits: fields.allowedOrganizationalUnits.optional(),
  verifyClientCertificateChain: fields.verifyClientCertificateChain.default(false),
  crls: fields.crls.optional(),
  crlUrls: fields.crlUrls.optional(),
  useCrlDistributionPoints: fields.useCrlDistributionPoints.default(false),
  ocspEnabled: fields.ocspEnabled.default(false),
  ocspServersOverride: fields.ocspServersOverride.optional(),
  ocspFailOpen: fields.ocspFailOpen.default(false),
  ocspQueryAllServers: fields.ocspQueryAllServers.default(false),
  ocspMaxRetries: fields.ocspMaxRetries.default(4),
  ocspThisUpdateMaxAge: fields.ocspThisUpdateMaxAge.default(0),
  bindTokensToCertificate: fields.bindTokensToCertificate.default(false),
  requiredExtensions: fields.requiredExtensions.optional(),
  tokenAudiences: fields.tokenAudiences.optional(),
  claimMappings: fields.claimMappings.optional(),
  accessTokenTrustedIps: fields.accessTokenTrustedIps.default(ANYWHERE),
  accessTokenTTL: fields.accessTokenTTL.default(DEFAULT_TTL),
  accessTokenMaxTTL: fields.accessTokenMaxTTL.default(DEFAULT_TTL),
  accessTokenNumUsesLimit: fields.accessTokenNumUsesLimit.default(0),
});

/** Each fetched CRL's last fetch, as GET answers it; read-only, so a PATCH of exactly what was read may carry it. */
const crlStatusSchema = z.array(z.object({ url: z.string(), lastFetchedAt: z.string(), status: z.string(), nextUpdate: z.string().nullable() }));

export const updateBody = z
  .strictObject({ ...fields, crlUrlStatus: crlStatusSchema, crlDistributionPointStatus: crlStatusSchema })
  .partial()
  .transform(({ crlUrlStatus: _readOnly, crlDistributionPointStatus: _alsoReadOnly, ...changes }) => changes);

const settingsSchema = z
  .object({
    id: z.string().uuid(),
    identityId: z.string().uuid(),
    caCertificate: z.string(),
    allowedCommonNames: z.string().nullable(),
    allowedSubjectAltNames: z.array(z.string()).nullable(),
    allowedOrganizations: z.array(z.string()).nullable(),
    allowedOrganizationalUnits: z.array(z.string()).nullable(),
    verifyClientCertificateChain: z.boolean(),
    crls: z.string().nullable(),
    crlUrls: z.array(z.string()).nullable(),
    crlUrlStatus: crlStatusSchema,
    useCrlDistributionPoints: z.boolean(),
    crlDistributionPointStatus: crlStatusSchema,
    ocspEnabled: z.boolean(),
    ocspServersOverride: z.array(z.string()).nullable(),
    ocspFailOpen: z.boolean(),
    ocspQueryAllServers: z.boolean(),
    ocspMaxRetries: z.number(),
    ocspThisUpdateMaxAge: z.number(),
    bindTokensToCertificate: z.boolean(),
    requiredExtensions: z.array(z.string()).nullable(),
    tokenAudiences: z.array(z.string()).nullable(),
    claimMappings: z.record(z.string(), z.string()).nullable(),
    accessTokenTrustedIps: z.array(z.object({ ipAddress: z.string(), type: z.enum(["ipv4", "ipv6"]), prefix: z.number().optional() })),
    accessTokenTTL: z.number(),
    accessTokenMaxTTL: z.number(),
    accessTokenNumUsesLimit: z.number(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("IdentityTlsCertAuth");

type SettingsRow = typeof identityTlsCertAuths.$inferSelect;
/** The stored row (less what only the metrics read), with each fetched CRL's last fetch. */
export const presentTlsCertAuth = async (db: Db, { crlsNextUpdate: _internal, ...row }: SettingsRow) => ({
  ...row,
  ...(await fetchedCrlStatus(db, row.id)),
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
});

export function toTrustedIps(entries: TrustedIpInput[]): TrustedIp[] {
  return entries.map(toTrustedIp);
}

/** The OCSP fields of a stored row, as the engine reads them. */
export function ocspSettingsOf(row: Pick<SettingsRow, "ocspEnabled" | "ocspServersOverride" | "ocspFailOpen" | "ocspQueryAllServers" | "ocspMaxRetries" | "ocspThisUpdateMaxAge">) {
  return row.ocspEnabled
    ? {
        serversOverride: row.ocspServersOverride,
        failOpen: row.ocspFailOpen,
        queryAllServers: row.ocspQueryAllServers,
        maxRetries: row.ocspMaxRetries,
        thisUpdateMaxAge: row.ocspThisUpdateMaxAge,
      }
    : null;
}

export function trustSettingsOf(row: TrustSettings): TrustSettings {
  return {
    caCertificate: row.caCertificate,
    crls: row.crls,
    fetchedCrls: row.fetchedCrls,
    verifyClientCertificateChain: row.verifyClientCertificateChain,
    allowedCommonNames: row.allowedCommonNames,
    allowedSubjectAltNames: row.allowedSubjectAltNames,
    allowedOrganizations: row.allowedOrganizations,
    allowedOrganizationalUnits: row.allowedOrganizationalUnits,
    requiredExtensions: row.requiredExtensions,
    ocsp: row.ocsp,
    useCrlDistributionPoints: row.useCrlDistributionPoints,
  };
}

/** The rules an identity's stored settings satisfy, checked on attach and on the merged result of an update; answers them compiled. */
export async function assertUsableSettings(
  settings: TrustSettings & { accessTokenTTL: number; accessTokenMaxTTL: number; claimMappings: Record<string, string> | null },
  decode?: CrlDecoder,
) {
  if (settings.accessTokenMaxTTL > 0 && settings.accessTokenTTL > settings.accessTokenMaxTTL) {
    throw badRequest("accessTokenTTL cannot be greater than accessTokenMaxTTL.");
  }
  assertClaimMappings(settings.claimMappings);
  try {
    const trust = await compileTrust(settings, decode);
    assertCryptoPolicy(trust);
    return trust;
  } catch (err) {
    throw answerForAdmin(err);
  }
}

const identityParam = z.object({ identityId: z.string().uuid() });
const answer = z.object({ identityTlsCertAuth: settingsSchema });
const path = "/api/v1/auth/tls-cert-auth/identities/{identityId}";
const tags = ["TLS Certificate Auth"];

const NOT_ATTACHED = "TLS cert auth is not attached to this identity.";

async function findSettings(db: Db, identityId: string): Promise<SettingsRow> {
  const [row] = await db.select().from(identityTlsCertAuths).where(eq(identityTlsCertAuths.identityId, identityId)).limit(1);
  if (!row) throw notFound(NOT_ATTACHED);
  return row;
}

/** Attach (POST, `certauth tls-cert-auth attach`): the body is already validated by `attachBody`. */
export async function attachTlsCertAuth(
  db: Db,
  principal: Principal | undefined,
  identityId: string,
  body: z.infer<typeof attachBody>,
  crlSource: CrlSource,
) {
  const { rootOrgId } = await loadManagedIdentity(db, principal, identityId);
  const decode = crlSource.decoderFor(rootOrgId);
  const values = {
    identityId,
    caCertificate: body.caCertificate,
    allowedCommonNames: body.allowedCommonNames ?? null,
    allowedSubjectAltNames: body.allowedSubjectAltNames ?? null,
    allowedOrganizations: body.allowedOrganizations ?? null,
    allowedOrganizationalUnits: body.allowedOrganizationalUnits ?? null,
    verifyClientCertificateChain: body.verifyClientCertificateChain,
    crls: body.crls ?? null,
    crlUrls: body.crlUrls ?? null,
    useCrlDistributionPoints: body.useCrlDistributionPoints,
    ocspEnabled: body.ocspEnabled,
    ocspServersOverride: body.ocspServersOverride ?? null,
    ocspFailOpen: body.ocspFailOpen,
    ocspQueryAllServers: body.ocspQueryAllServers,
    ocspMaxRetries: body.ocspMaxRetries,
    ocspThisUpdateMaxAge: body.ocspThisUpdateMaxAge,
    bindTokensToCertificate: body.bindTokensToCertificate,
    requiredExtensions: body.requiredExtensions ?? null,
    tokenAudiences: body.tokenAudiences ?? null,
    claimMappings: body.claimMappings ?? null,
    accessTokenTrustedIps: toTrustedIps(body.accessTokenTrustedIps),
    accessTokenTTL: body.accessTokenTTL,
    accessTokenMaxTTL: body.accessTokenMaxTTL,
    accessTokenNumUsesLimit: body.accessTokenNumUsesLimit,
  };
  const fetched = await fetchForAttach(crlSource, values.crlUrls ?? [], new Date(), decode);
  const trust = await assertUsableSettings({ ...values, fetchedCrls: fetched }, decode);
  try {
    const row = await db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(identityTlsCertAuths)
        .values({ ...values, crlsNextUpdate: trust.uploadedCrlsNextUpdate })
        .returning();
      await replaceFetchedCrls(tx, inserted!.id, fetched);
      return inserted!;
    });
    return presentTlsCertAuth(db, row);
  } catch (err) {
    if (isUniqueViolation(err as unknown)) throw badRequest("TLS cert auth is already attached to this identity.");
    throw err;
  }
}

export async function getTlsCertAuth(db: Db, principal: Principal | undefined, identityId: string) {
  await loadManagedIdentity(db, principal, identityId);
  return presentTlsCertAuth(db, await findSettings(db, identityId));
}

/** Partial update; the merged settings must pass the same checks as an attach. */
export async function updateTlsCertAuth(
  db: Db,
  principal: Principal | undefined,
  identityId: string,
  body: z.infer<typeof updateBody>,
  crlSource: CrlSource,
) {
  const { rootOrgId } = await loadManagedIdentity(db, principal, identityId);
  const decode = crlSource.decoderFor(rootOrgId);
  const current = await findSettings(db, identityId);
  const { accessTokenTrustedIps, ...rest } = body;
  const changes = {
    ...rest,
    ...(accessTokenTrustedIps ? { accessTokenTrustedIps: toTrustedIps(accessTokenTrustedIps) } : {}),
  };
  // A URL already stored keeps its CRL (the refresher keeps it fresh); only new URLs are fetched now.
  const stored = await loadFetchedCrls(db, current.id, "url");
  const wanted = changes.crlUrls === undefined ? stored.map((crl) => crl.url) : (changes.crlUrls ?? []);
  const kept = stored.filter((crl) => wanted.includes(crl.url));
  const fetched = await fetchForAttach(crlSource, wanted.filter((url) => !kept.some((crl) => crl.url === url)), new Date(), decode);
  // Distribution point CRLs were verified against the CAs they were fetched for; other CAs fetch their own.
  const merged = { ...current, ...changes };
  const keepDistributionPoints = merged.useCrlDistributionPoints && merged.caCertificate === current.caCertificate;
  const distributionPoints = keepDistributionPoints ? await loadFetchedCrls(db, current.id, "distribution_point") : [];
  const trust = await assertUsableSettings({ ...merged, fetchedCrls: [...kept, ...fetched, ...distributionPoints] }, decode);
  const row = await db.transaction(async (tx) => {
    const [updated] = await tx
      .update(identityTlsCertAuths)
      // updated_at is the settings' version (trust cache key; checked when a login's token is written):
      // every update moves it forward, even two in the same microsecond.
      .set({
        ...changes,
        crlsNextUpdate: trust.uploadedCrlsNextUpdate,
        updatedAt: sql`greatest(clock_timestamp(), ${identityTlsCertAuths.updatedAt} + interval '1 microsecond')`,
      })
      .where(eq(identityTlsCertAuths.id, current.id))
      .returning();
    if (updated) await replaceFetchedCrls(tx, updated.id, fetched, { keep: kept.map((crl) => crl.url), keepDistributionPoints });
    return updated;
  });
  if (!row) throw notFound(NOT_ATTACHED);
  return presentTlsCertAuth(db, row);
}

/** Detaches TLS cert auth and deletes every token the identity got from it, in one transaction. */
export async function revokeTlsCertAuth(db: Db, principal: Principal | undefined, identityId: string) {
  await loadManagedIdentity(db, principal, identityId);
  const row = await db.transaction(async (tx) => {
    const [deleted] = await tx.delete(identityTlsCertAuths).where(eq(identityTlsCertAuths.identityId, identityId)).returning();
    if (deleted) {
      await tx
        .delete(identityAccessTokens)
        .where(and(eq(identityAccessTokens.identityId, identityId), eq(identityAccessTokens.authMethod, AUTH_METHOD)));
    }
    return deleted;
  });
  if (!row) throw notFound(NOT_ATTACHED);
  const { crlsNextUpdate: _internal, ...gone } = row;
  return { ...gone, crlUrlStatus: [], crlDistributionPointStatus: [], createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() };
}

export function tlsCertAuthRoutes(db: Db, crlSource: CrlSource) {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: "post",
      path,
      tags,
      security: bearerSecurity,
      description: "Attach TLS Certificate Auth configuration onto machine identity",
      request: { params: identityParam, body: jsonBody(attachBody) },
      responses: { ...jsonOk(answer), ...errorResponses, 503: CRL_BUSY },
    }),
    async (c) => {
      const row = await attachTlsCertAuth(db, c.get("principal"), c.req.valid("param").identityId, c.req.valid("json"), crlSource);
      return c.json({ identityTlsCertAuth: row }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: "get",
      path,
      tags,
      security: bearerSecurity,
      request: { params: identityParam },
      responses: { ...jsonOk(answer), ...errorResponses },
    }),
    async (c) => c.json({ identityTlsCertAuth: await getTlsCertAuth(db, c.get("principal"), c.req.valid("param").identityId) }, 200),
  );

  router.openapi(
    createRoute({
      method: "patch",
      path,
      tags,
      security: bearerSecurity,
      request: { params: identityParam, body: jsonBody(updateBody) },
      responses: { ...jsonOk(answer), ...errorResponses, 503: CRL_BUSY },
    }),
    async (c) => {
      const row = await updateTlsCertAuth(db, c.get("principal"), c.req.valid("param").identityId, c.req.valid("json"), crlSource);
      return c.json({ identityTlsCertAuth: row }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: "delete",
      path,
      tags,
      security: bearerSecurity,
      description: "Detaches TLS cert auth; every token the identity got from it stops working at once.",
      request: { params: identityParam },
      responses: { ...jsonOk(answer), ...errorResponses },
    }),
    async (c) => c.json({ identityTlsCertAuth: await revokeTlsCertAuth(db, c.get("principal"), c.req.valid("param").identityId) }, 200),
  );

  return router;
}
