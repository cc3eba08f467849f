import { and, asc, eq, lte, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { fetchedCrls, identities, identityTlsCertAuths, organizations } from "../db/schema.ts";
import type { Logger } from "../log.ts";
import { compileCrl, compileTrust, type CompiledCrl, type CrlDecoder } from "../pki/index.ts";
import { bumpVersion, goodFetch, type CrlSource } from "./crls.ts";
import { forgetUnused } from "./distribution-points.ts";
import { withoutCredentials } from "./urls.ts";

/** How long a claimed fetch is this instance's; past it (the instance died mid-fetch) another may claim the row. */
const CLAIM_SECONDS = 120;
/** Rows claimed per round, so one slow round cannot hold many rows. */
const ROWS_PER_ROUND = 16;
/** Fetches under way at once in a round: a slow server holds one of them, not the round (and a body of each at most in memory). */
const FETCHES_AT_ONCE = 4;
/** How often the service looks for due CRLs at most. */
const TICK_SECONDS = 30;

/**
 * Fetches stored CRLs again when due. Instances sharing a database claim a due row by moving its
 * next_fetch_at forward in one UPDATE: PostgreSQL re-checks the WHERE on the row a concurrent claim
 * committed, so exactly one instance fetches it per interval. Logins never wait on this.
 */
export class CrlRefresher {
  #timer: ReturnType<typeof setInterval> | undefined;
  #round: Promise<number> | undefined;
  #decoding: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly source: CrlSource,
    private readonly log: Logger,
  ) {}

  start(): void {
    const tick = () => {
      this.#round ??= this.refreshDue(new Date())
        .catch((err) => {
          this.log.warn("CRL refresh round failed", { error: (err as Error).message });
          return 0;
        })
        .finally(() => (this.#round = undefined));
    };
    this.#timer = setInterval(tick, Math.min(this.source.intervalSeconds, TICK_SECONDS) * 1000);
    this.#timer.unref?.();
  }

  /** Stops the timer and waits for a round under way. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#round;
  }

  /** Forgets distribution point CRLs no login needs any more, then fetches every CRL due at `now` that this instance claims; answers how many it fetched. */
  async refreshDue(now: Date): Promise<number> {
    await forgetUnused(this.db, now);
    const due = this.db
      .select({ configId: fetchedCrls.configId, url: fetchedCrls.url })
      .from(fetchedCrls)
      .where(lte(fetchedCrls.nextFetchAt, now))
      // The longest overdue first, so rows that keep failing cannot crowd out the others.
      .orderBy(asc(fetchedCrls.nextFetchAt))
      .limit(ROWS_PER_ROUND);
    const claimed = await this.db
      .update(fetchedCrls)
      .set({ nextFetchAt: new Date(now.getTime() + CLAIM_SECONDS * 1000) })
      .where(and(lte(fetchedCrls.nextFetchAt, now), sql`(${fetchedCrls.configId}, ${fetchedCrls.url}) in (${due})`))
      .returning();
    const queue = [...claimed];
    const worker = async () => {
      for (let row; (row = queue.shift()); ) await this.#refresh(row, now);
    };
    await Promise.all(Array.from({ length: FETCHES_AT_ONCE }, worker));
    return claimed.length;
  }

  async #refresh(row: typeof fetchedCrls.$inferSelect, now: Date): Promise<void> {
    const key = and(eq(fetchedCrls.configId, row.configId), eq(fetchedCrls.url, row.url));
    try {
      const result = await this.source.fetch(row.url, { etag: row.etag, lastModified: row.lastModified }, expiryState(row, now) !== "fresh");
      if (result.status === 304) {
        await this.db
          .update(fetchedCrls)
          .set({ lastFetchedAt: now, lastStatus: "not_modified", failures: 0, nextFetchAt: this.source.nextFetchAt(now, row.thisUpdate, row.nextUpdate) })
          .where(key);
        return;
      }
      const changed = !sameBytes(result.body, row.der);
      const crl = await this.#oneAtATime(async () => {
        const { fresh, decode } = await this.#verify(row.configId, row.url, result.body);
        if (changed) await successorOf(row, fresh, decode);
        return fresh;
      });
      await this.db.transaction(async (tx) => {
        await tx
          .update(fetchedCrls)
          .set(goodFetch(this.source, result, crl, now))
          .where(key);
        if (changed) await bumpVersion(tx, row.configId);
      });
    } catch (err) {
      // The last good CRL stays; past its nextUpdate, logins fail closed with crl_expired.
      const failures = row.failures + 1;
      const status = `failed: ${(err as Error).message}`.slice(0, 512);
      const url = withoutCredentials(row.url);
      this.log.warn("CRL fetch failed", { url, failures, error: (err as Error).message });
      const state = expiryState(row, now);
      // Once per CRL and state: the row's previous failure tells which state the last attempt left it in.
      if (state !== "fresh" && (row.failures === 0 || expiryState(row, row.lastFetchedAt) !== state)) {
        this.log.warn(state === "expired" ? "CRL expired and its refresh failed" : "CRL expires soon and its refresh failed", {
          url,
          configId: row.configId,
          nextUpdate: row.nextUpdate?.toISOString(),
          failures,
        });
      }
      await this.db
        .update(fetchedCrls)
        .set({ lastFetchedAt: now, lastStatus: status, failures, nextFetchAt: this.source.retryAt(now, failures) })
        .where(key);
    }
  }

  /** Decoding a CRL holds all its entries in memory: the fetches of a round run side by side, their decoding one at a time. */
  #oneAtATime<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#decoding.then(work);
    this.#decoding = run.catch(() => undefined);
    return run;
  }

  /**
   * The configuration's compile path with the new body in place of the stored one: verified exactly like an
   * upload, and decoded as its tenant's (the identity's root organization), like its attach and its logins.
   */
  async #verify(configId: string, url: string, der: Uint8Array<ArrayBuffer>) {
    const [config] = await this.db
      .select({ caCertificate: identityTlsCertAuths.caCertificate, tenant: organizations.rootOrgId })
      .from(identityTlsCertAuths)
      .innerJoin(identities, eq(identities.id, identityTlsCertAuths.identityId))
      .innerJoin(organizations, eq(organizations.id, identities.orgId))
      .where(eq(identityTlsCertAuths.id, configId));
    if (!config) throw new Error("the configuration is gone");
    const decode = this.source.decoderFor(config.tenant);
    const trust = await compileTrust({
      caCertificate: config.caCertificate,
      crls: null,
      fetchedCrls: [{ url, der }],
      verifyClientCertificateChain: false,
      allowedCommonNames: null,
      allowedSubjectAltNames: null,
      allowedOrganizations: null,
      allowedOrganizationalUnits: null,
    }, decode);
    return { fresh: trust.crls[0]!, decode };
  }
}

/**
 * Whoever answers at the URL can serve any CRL the issuer ever signed: a refresh takes only a newer issue of the
 * stored list (same issuer, same scope, thisUpdate not earlier), else an older CRL, a delta CRL or another
 * partition would silently drop revocations. Throws a sentence for the row's status.
 */
async function successorOf(row: { url: string; der: Uint8Array<ArrayBuffer>; thisUpdate: Date }, fresh: CompiledCrl, decode: CrlDecoder): Promise<void> {
  const stored = await compileCrl(row.der, `CRL ${row.url}`, new Map(), decode);
  if (fresh.issuerKey !== stored.issuerKey) throw new Error(`the answer is a CRL of "${fresh.issuer}", the stored one of "${stored.issuer}"`);
  if (fresh.thisUpdate.getTime() < row.thisUpdate.getTime()) {
    throw new Error(`the answer's thisUpdate ${fresh.thisUpdate.toISOString()} is older than the stored CRL's`);
  }
  if (JSON.stringify(fresh.scope) !== JSON.stringify(stored.scope)) {
    throw new Error(`the answer covers other certificates than the stored CRL (${fresh.scope.partial ?? "another issuing distribution point"})`);
  }
}

/** Where a CRL stands at `at`: past its nextUpdate, within the last tenth of its validity, or neither. */
function expiryState(row: { thisUpdate: Date; nextUpdate: Date | null }, at: Date): "fresh" | "expiring" | "expired" {
  if (!row.nextUpdate) return "fresh";
  const next = row.nextUpdate.getTime();
  if (at.getTime() >= next) return "expired";
  return at.getTime() >= next - (next - row.thisUpdate.getTime()) / 10 ? "expiring" : "fresh";
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
