import { and, asc, eq, inArray, lt, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { fetchedCrls } from "../db/schema.ts";
import type { Logger } from "../log.ts";
import {
  ByteBudgetCache,
  compileCrl,
  crlCharge,
  TrustConfigBusy,
  TrustConfigError,
  type CompiledCrl,
  type DistributionPointCrls,
} from "../pki/index.ts";
import type { ParsedCertificate } from "../pki/lib/certificate.ts";
import { bumpVersion, goodFetch, type CrlSource } from "./crls.ts";
import { FetchRefused, type FetchResult } from "./fetch.ts";
import { withoutCredentials } from "./urls.ts";

/** The longest a login waits, all its distribution points together, for CRLs that no instance has fetched yet. */
export const DP_LOGIN_BUDGET_MS = 5_000;
/** Distribution point CRLs stored per configuration at most; one more evicts the one a login needed least lately. */
export const MAX_STORED_PER_CONFIGURATION = 16;
/** Unused this long, a distribution point CRL is forgotten by the refresher instead of fetched again. */
export const FORGET_AFTER_MS = 24 * 3600_000;
/** After a failed fetch, logins answer at once for this long instead of fetching again. */
const FAILURE_MEMORY_MS = 30_000;
/** last_used_at is written at most this often per CRL and instance. */
const TOUCH_EVERY_MS = 10 * 60_000;
/** Why a login went without a distribution point's CRL that the decoder had no room for (not how full it is). */
const NO_ROOM = "the CRL decoder has no room for this organization's CRLs now";
/** Entries of the per-instance failure and touch memories at most. */
const MEMORY_ENTRIES = 4_096;
/** CRLs fetched or read by this instance that its compiled configurations do not hold yet. */
const LEARNED_BYTES = 64 * 1024 * 1024;

/**
 * The CRLs of distribution points (useCrlDistributionPoints) that a login needs and its compiled configuration
 * does not hold: read from fetched_crls when another instance stored one, else fetched under the outbound rules,
 * verified like an uploaded CRL and stored for every instance (the refresher keeps it fresh from then on).
 * Concurrent logins needing one CRL share one fetch; a login waits for it by its deadline, the fetch itself
 * runs to its own caps. Storing one moves no configuration version: this instance keeps it beside the compiled
 * configuration, and the others read it on their first need.
 */
export class DistributionPoints {
  readonly #inflight = new Map<string, Promise<CompiledCrl | string>>();
  readonly #learned = new ByteBudgetCache<string, CompiledCrl>(LEARNED_BYTES);
  readonly #failed = new Map<string, { until: number; why: string }>();
  readonly #touched = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly source: CrlSource,
    private readonly log: Logger,
  ) {}

  /** What a login with configuration `configId`, of `tenant` (its identity's root organization), hands to the engine. */
  forConfiguration(configId: string, tenant: string): DistributionPointCrls {
    return {
      fetch: (url, anchors, compilation, deadline) => this.#crl(configId, tenant, url, anchors, compilation, deadline),
      used: (url) => this.#touch(configId, url),
    };
  }

  async #crl(configId: string, tenant: string, url: string, anchors: ReadonlyMap<string, ParsedCertificate[]>, compilation: string, deadline: number) {
    const key = `${compilation} ${url}`;
    const learned = this.#learned.get(key);
    if (learned) return learned;
    const failed = this.#failed.get(`${configId} ${url}`);
    if (failed && failed.until > Date.now()) return failed.why;
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#load(configId, tenant, url, anchors)
        .then(
          (found) => {
            if (typeof found !== "string") this.#learned.set(key, found, crlCharge(found));
            return found;
          },
          // A storage fault leaves the status unknown: fail closed.
          (err: Error) => `the stored CRLs could not be read: ${err.message}`,
        )
        .finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return byDeadline(pending, deadline);
  }

  async #load(configId: string, tenant: string, url: string, anchors: ReadonlyMap<string, ParsedCertificate[]>): Promise<CompiledCrl | string> {
    const [stored] = await this.db
      .select({ der: fetchedCrls.der })
      .from(fetchedCrls)
      .where(and(eq(fetchedCrls.configId, configId), eq(fetchedCrls.url, url)));
    if (stored) return this.#compile(configId, tenant, url, stored.der, anchors);
    // Nothing fetched that could not be decoded now: this login goes without it, the next one asks again.
    if (!this.source.hasRoomFor(tenant)) return NO_ROOM;
    let result: FetchResult;
    try {
      result = await this.source.fetch(url);
    } catch (err) {
      if (!(err instanceof FetchRefused)) throw err;
      return this.#fail(configId, url, `fetching ${url} failed: ${err.message}`);
    }
    if (result.status !== 200) return this.#fail(configId, url, `${url} answered HTTP ${result.status}`);
    const crl = await this.#compile(configId, tenant, url, result.body, anchors);
    if (typeof crl !== "string") await this.#store(configId, url, result, crl);
    return crl;
  }

  /** Verified exactly like an uploaded CRL. */
  async #compile(configId: string, tenant: string, url: string, der: Uint8Array<ArrayBuffer>, anchors: ReadonlyMap<string, ParsedCertificate[]>) {
    try {
      return await compileCrl(der, `CRL ${url}`, anchors, this.source.decoderFor(tenant));
    } catch (err) {
      // No room in the decoder now says nothing of the CRL: this login goes without it, the next one tries again.
      if (err instanceof TrustConfigBusy) return NO_ROOM;
      if (err instanceof TrustConfigError) return this.#fail(configId, url, err.message.replace(/\.$/, ""));
      throw err;
    }
  }

  /** Stores a new CRL, evicting past the cap the one a login needed least lately; a storage fault leaves this login its CRL. */
  async #store(configId: string, url: string, result: FetchResult & { status: 200 }, crl: CompiledCrl) {
    const now = new Date();
    try {
      await this.db.transaction(async (tx) => {
        const inserted = await tx
          .insert(fetchedCrls)
          .values({ configId, url, source: "distribution_point", ...goodFetch(this.source, result, crl, now), lastUsedAt: now })
          .onConflictDoNothing()
          .returning({ url: fetchedCrls.url });
        if (!inserted.length) return;
        const others = await tx
          .select({ url: fetchedCrls.url })
          .from(fetchedCrls)
          .where(and(eq(fetchedCrls.configId, configId), eq(fetchedCrls.source, "distribution_point"), sql`${fetchedCrls.url} <> ${url}`))
          .orderBy(sql`${fetchedCrls.lastUsedAt} asc nulls first`, asc(fetchedCrls.url));
        const evicted = others.slice(0, Math.max(0, others.length + 1 - MAX_STORED_PER_CONFIGURATION)).map((row) => row.url);
        if (!evicted.length) return;
        await tx.delete(fetchedCrls).where(and(eq(fetchedCrls.configId, configId), inArray(fetchedCrls.url, evicted)));
        // A compiled configuration must not keep checking a CRL nobody refreshes any more.
        await bumpVersion(tx, configId);
      });
    } catch (err) {
      this.log.warn("storing a distribution point CRL failed", { configId, url: withoutCredentials(url), error: (err as Error).message });
    }
  }

  #fail(configId: string, url: string, why: string): string {
    remember(this.#failed, `${configId} ${url}`, { until: Date.now() + FAILURE_MEMORY_MS, why });
    return why;
  }

  #touch(configId: string, url: string): void {
    const key = `${configId} ${url}`;
    const now = Date.now();
    const last = this.#touched.get(key);
    if (last !== undefined && now - last < TOUCH_EVERY_MS) return;
    remember(this.#touched, key, now);
    this.db
      .update(fetchedCrls)
      .set({ lastUsedAt: new Date(now) })
      .where(and(eq(fetchedCrls.configId, configId), eq(fetchedCrls.url, url)))
      .catch((err: Error) => this.log.warn("marking a CRL as used failed", { configId, error: err.message }));
  }
}

/** Deletes the distribution point CRLs no login needed for FORGET_AFTER_MS; answers the configurations that lost one. */
export async function forgetUnused(db: Db, now: Date): Promise<string[]> {
  const forgotten = await db
    .delete(fetchedCrls)
    .where(and(eq(fetchedCrls.source, "distribution_point"), lt(fetchedCrls.lastUsedAt, new Date(now.getTime() - FORGET_AFTER_MS))))
    .returning({ configId: fetchedCrls.configId });
  const configIds = [...new Set(forgotten.map((row) => row.configId))];
  for (const configId of configIds) await bumpVersion(db, configId);
  return configIds;
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MEMORY_ENTRIES) map.delete(map.keys().next().value!);
}

async function byDeadline(pending: Promise<CompiledCrl | string>, deadline: number): Promise<CompiledCrl | string> {
  const left = deadline - Date.now();
  if (left <= 0) return "the login's time for fetching CRLs was spent";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no CRL within the login's ${DP_LOGIN_BUDGET_MS / 1000} s`), left)));
  try {
    return await Promise.race([pending, late]);
  } finally {
    clearTimeout(timer);
  }
}
