import { and, asc, eq, gt, inArray, isNotNull, isNull, min, notInArray, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { fetchedCrls, identityTlsCertAuths } from "../db/schema.ts";
import { badRequest, busy } from "../errors.ts";
import type { Config } from "../config.ts";
import { Metrics } from "../metrics/registry.ts";
import { compileCrl, compileTrust, type CrlDecoder, type FetchedCrl, TrustConfigBusy, TrustConfigError } from "../pki/index.ts";
import type { Logger } from "../log.ts";
import { CrlDecoding } from "./crl-decoding.ts";
import type { AllowedHosts } from "../net/allowed-hosts.ts";
import { fetchRevocationUrl, FetchRefused, type Conditional, type FetchResult } from "./fetch.ts";

/** The first retry after a failed fetch; each further failure doubles it, up to CRL_REFRESH_INTERVAL. */
const FIRST_RETRY_SECONDS = 30;

/**
 * Fetches CRLs under the outbound rules and counts each fetch in certauth_revocation_fetches_total; `decode` is
 * how everything that fetches CRLs (and the compiled configurations) decodes them.
 */
export class CrlSource {
  readonly decode: CrlDecoder;

  constructor(
    readonly allowed: AllowedHosts,
    /** CRL_REFRESH_INTERVAL, seconds. */
    readonly intervalSeconds: number,
    private readonly metrics: Metrics,
    readonly decoding: CrlDecoding = new CrlDecoding(metrics),
  ) {
    this.decode = decoding.decode;
  }

  /** How work done for `tenant` (a root organization id) decodes CRLs: it waits its turn with other tenants'. */
  decoderFor(tenant: string): CrlDecoder {
    return this.decoding.decoderFor(tenant);
  }

  /** Whether the decoder would take a large CRL of `tenant` now: fetching one it would refuse is wasted. */
  hasRoomFor(tenant: string): boolean {
    return this.decoding.hasRoomFor(tenant);
  }

  /**
   * `staleIfUnchanged`: the stored CRL is past or near its nextUpdate, so a 304 (the same stale list again) is a
   * failed refresh, counted and thrown as one, rather than a good answer that hides the CRL running out.
   */
  async fetch(url: string, conditional: Conditional = {}, staleIfUnchanged = false): Promise<FetchResult> {
    try {
      const result = await fetchRevocationUrl(url, this.allowed, conditional);
      if (result.status === 304 && staleIfUnchanged) {
        throw new Error("the server answers 304 Not Modified, but the stored CRL is past or near its nextUpdate");
      }
      this.metrics.revocationFetches.inc("crl", result.status === 304 ? "not_modified" : "ok");
      return result;
    } catch (err) {
      this.metrics.revocationFetches.inc("crl", "failed");
      throw err;
    }
  }

  /** When the next fetch is due: before nextUpdate (a tenth of the CRL's validity ahead), at most an interval away. */
  nextFetchAt(now: Date, thisUpdate: Date, nextUpdate: Date | null): Date {
    const interval = this.intervalSeconds * 1000;
    let due = now.getTime() + interval;
    if (nextUpdate) due = Math.min(due, nextUpdate.getTime() - (nextUpdate.getTime() - thisUpdate.getTime()) / 10);
    return new Date(Math.max(due, now.getTime() + Math.min(interval, FIRST_RETRY_SECONDS * 1000)));
  }

  /** Exponential back-off after `failures` failed fetches in a row. */
  retryAt(now: Date, failures: number): Date {
    const seconds = Math.min(this.intervalSeconds, FIRST_RETRY_SECONDS * 2 ** Math.min(failures - 1, 20));
    return new Date(now.getTime() + seconds * 1000);
  }
}

/** What an attach or PATCH stores for one URL. */
export type FetchedRow = typeof fetchedCrls.$inferInsert;

/** The columns a good fetch sets: the body, its validators and dates, and when to fetch again. */
export function goodFetch(source: CrlSource, result: FetchResult & { status: 200 }, crl: { thisUpdate: Date; nextUpdate: Date | null }, now: Date) {
  return {
    der: result.body,
    etag: result.etag,
    lastModified: result.lastModified,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    lastFetchedAt: now,
    lastStatus: "ok",
    failures: 0,
    nextFetchAt: source.nextFetchAt(now, crl.thisUpdate, crl.nextUpdate),
  };
}

/** Fetches every URL for an attach or PATCH (decoded by `decode`, the tenant's); a failure is a 400 naming the URL. */
export async function fetchForAttach(
  source: CrlSource,
  urls: readonly string[],
  now: Date,
  decode: CrlDecoder = source.decode,
): Promise<Omit<FetchedRow, "configId">[]> {
  return Promise.all(
    urls.map(async (url) => {
      let result: FetchResult;
      try {
        result = await source.fetch(url);
      } catch (err) {
        if (err instanceof FetchRefused) throw badRequest(`The CRL at ${url} could not be fetched: ${err.message}.`);
        throw err;
      }
      if (result.status !== 200) throw badRequest(`The CRL at ${url} could not be fetched: it answered HTTP ${result.status}.`);
      return { url, ...goodFetch(source, result, await decodeFetched(decode, url, result.body), now) };
    }),
  );
}

/** The dates of a fetched body (its signature is checked with the whole configuration), through the same decoder as an uploaded CRL; a body that is not a CRL is a 400 naming the URL. */
async function decodeFetched(decode: CrlDecoder, url: string, der: Uint8Array<ArrayBuffer>) {
  try {
    const crl = await compileCrl(der, `CRL ${url}`, new Map(), decode);
    return { thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate };
  } catch (err) {
    throw answerForAdmin(err);
  }
}

/**
 * What the admin API answers for an error compiling a configuration or a CRL: 503 (Retry-After) when the CRL
 * decoder had no room for it now, 400 when the configuration itself is unusable, anything else as it came.
 */
export function answerForAdmin(err: unknown): unknown {
  if (err instanceof TrustConfigBusy) return busy(err.message);
  if (err instanceof TrustConfigError) return badRequest(err.message);
  return err;
}

type Source = FetchedRow["source"] & string;

/** The stored CRLs of a configuration (of one source, or all), as compileTrust takes them. */
export async function loadFetchedCrls(db: Db, configId: string, source?: Source): Promise<FetchedCrl[]> {
  return db
    .select({ url: fetchedCrls.url, der: fetchedCrls.der })
    .from(fetchedCrls)
    .where(and(eq(fetchedCrls.configId, configId), source ? eq(fetchedCrls.source, source) : undefined))
    .orderBy(fetchedCrls.url);
}

/**
 * Sets the CRLs of a configuration's crlUrls (inside the attach or PATCH transaction): the rows of `keep` stay,
 * `rows` are added, every other crlUrls row goes, and so do the distribution point rows unless `keepDistributionPoints`.
 */
export async function replaceFetchedCrls(
  db: Db,
  configId: string,
  rows: Omit<FetchedRow, "configId">[],
  { keep = [], keepDistributionPoints = false }: { keep?: readonly string[]; keepDistributionPoints?: boolean } = {},
): Promise<void> {
  const added = rows.map((row) => row.url);
  await db
    .delete(fetchedCrls)
    .where(
      and(
        eq(fetchedCrls.configId, configId),
        or(
          and(eq(fetchedCrls.source, "url"), keep.length ? notInArray(fetchedCrls.url, [...keep]) : undefined),
          keepDistributionPoints ? (added.length ? inArray(fetchedCrls.url, added) : sql`false`) : eq(fetchedCrls.source, "distribution_point"),
        ),
      ),
    );
  if (rows.length) await db.insert(fetchedCrls).values(rows.map((row) => ({ ...row, configId, source: "url" as const })));
}

/** Each stored CRL's last fetch by source, for GET: crlUrlStatus and crlDistributionPointStatus. */
export async function fetchedCrlStatus(db: Db, configId: string) {
  const rows = await db
    .select({
      url: fetchedCrls.url,
      source: fetchedCrls.source,
      lastFetchedAt: fetchedCrls.lastFetchedAt,
      status: fetchedCrls.lastStatus,
      nextUpdate: fetchedCrls.nextUpdate,
    })
    .from(fetchedCrls)
    .where(eq(fetchedCrls.configId, configId))
    .orderBy(fetchedCrls.url);
  const of = (source: Source) =>
    rows
      .filter((row) => row.source === source)
      .map(({ source: _, ...row }) => ({ ...row, lastFetchedAt: row.lastFetchedAt.toISOString(), nextUpdate: row.nextUpdate?.toISOString() ?? null }));
  return { crlUrlStatus: of("url"), crlDistributionPointStatus: of("distribution_point") };
}

/** The soonest nextUpdate of any CRL in use (uploaded, fetched from a URL or a distribution point), for certauth_crl_next_update_seconds. */
export async function soonestNextUpdate(db: Db): Promise<Date | null> {
  const [fetched] = await db.select({ soonest: min(fetchedCrls.nextUpdate) }).from(fetchedCrls);
  const [uploaded] = await db.select({ soonest: min(identityTlsCertAuths.crlsNextUpdate) }).from(identityTlsCertAuths);
  const times = [fetched?.soonest, uploaded?.soonest].flatMap((d) => (d == null ? [] : [new Date(d).getTime()]));
  return times.length ? new Date(Math.min(...times)) : null;
}

/** Configurations compiled per page of the start's pass over uploaded CRLs. */
const FILL_PAGE = 32;

/**
 * Sets crls_next_update where it is null but `crls` is not: configurations attached before the column existed,
 * which certauth_crl_next_update_seconds would otherwise miss until their next PATCH. One pass at start, a page
 * at a time by id, each configuration compiled (and verified) as an attach does; a row changed meanwhile is left
 * alone. A configuration whose CRLs have no nextUpdate stays null and is read again at the next start. Answers
 * how many rows it set.
 */
export async function fillUploadedCrlsNextUpdate(db: Db, decode: CrlDecoder, log: Logger): Promise<number> {
  let filled = 0;
  for (let after = ""; ; ) {
    const page = await db
      .select({ id: identityTlsCertAuths.id, caCertificate: identityTlsCertAuths.caCertificate, crls: identityTlsCertAuths.crls })
      .from(identityTlsCertAuths)
      .where(and(isNotNull(identityTlsCertAuths.crls), isNull(identityTlsCertAuths.crlsNextUpdate), after ? gt(identityTlsCertAuths.id, after) : undefined))
      .orderBy(asc(identityTlsCertAuths.id))
      .limit(FILL_PAGE);
    for (const row of page) {
      let soonest: Date | null;
      try {
        soonest = (await compileTrust({ ...row, verifyClientCertificateChain: false, allowedCommonNames: null, allowedSubjectAltNames: null, allowedOrganizations: null, allowedOrganizationalUnits: null }, decode)).uploadedCrlsNextUpdate;
      } catch (err) {
        log.warn("uploaded CRLs of a configuration could not be read for certauth_crl_next_update_seconds", { configId: row.id, error: (err as Error).message });
        continue;
      }
      if (!soonest) continue;
      const set = await db
        .update(identityTlsCertAuths)
        .set({ crlsNextUpdate: soonest })
        .where(and(eq(identityTlsCertAuths.id, row.id), isNull(identityTlsCertAuths.crlsNextUpdate), eq(identityTlsCertAuths.crls, row.crls!)))
        .returning({ id: identityTlsCertAuths.id });
      filled += set.length;
    }
    if (page.length < FILL_PAGE) return filled;
    after = page[page.length - 1]!.id;
  }
}

/** Moves a configuration's version forward, so every instance's TrustCache compiles the new CRL. */
export const bumpVersion = (db: Db, configId: string) =>
  db
    .update(identityTlsCertAuths)
    .set({ updatedAt: sql`greatest(clock_timestamp(), ${identityTlsCertAuths.updatedAt} + interval '1 microsecond')` })
    .where(eq(identityTlsCertAuths.id, configId));

/** The CrlSource a configuration describes (the CLI's has its own, unscraped counters). */
export const crlSourceFor = (config: Config, metrics: Metrics = new Metrics()) =>
  new CrlSource(config.REVOCATION_FETCH_ALLOWED_HOSTS, config.CRL_REFRESH_INTERVAL, metrics);
