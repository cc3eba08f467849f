import { existsSync } from "node:fs";
import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import * as schema from "./schema.ts";
import { migrateDatabase } from "./migrate.ts";
import { restoreTemplate } from "./pglite-template.ts";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  driver: "pglite" | "postgres";
  /** Answers quickly: resolves when the database answers a trivial query, rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** `postgres://…`, `memory://`, or undefined for PGlite in `dataDir`. */
  url: string | undefined;
  dataDir: string;
  /** Per-statement limit; a query past it fails instead of hanging. */
  statementTimeoutMs?: number;
  poolSize?: number;
}

export async function openDatabase(options: OpenOptions): Promise<Database> {
  const database = options.url?.startsWith("postgres") ? openPostgres(options) : await openPglite(options);
  try {
    await migrateDatabase(database, options.url);
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
  return database;
}

function openPostgres(options: OpenOptions): Database {
  const client = postgres(options.url!, {
    max: options.poolSize ?? 10,
    connect_timeout: 3,
    idle_timeout: 30,
    // postgres.js waits up to 20 s (3^n/100 s) before reconnecting after failures, holding each queued query that
    // long; a short capped wait lets a request answer 503 within seconds and the pool recover as soon as it can.
    backoff: (retries: number) => Math.min(0.05 * retries, 0.5),
    onnotice: () => {},
    connection: { statement_timeout: options.statementTimeoutMs ?? 5000, application_name: "certauth" },
  });
  const db = drizzlePostgres(client, { schema }) as unknown as Db;
  return {
    db,
    driver: "postgres",
    ping: async () => {
      await client`select 1`;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

export type PgliteAssets = Pick<PGliteOptions, "pgliteWasmModule" | "initdbWasmModule" | "fsBundle">;
let pgliteAssets: () => Promise<PgliteAssets> = async () => ({});

/** Where PGlite's wasm and data bundle come from; by default PGlite finds them beside its module, the single binary embeds them. */
export function setPgliteAssets(load: () => Promise<PgliteAssets>): void {
  pgliteAssets = load;
}

/**
 * PGlite's postgres zero-fills its shared memory when it starts, so shared_buffers is resident from the first
 * second: at PGlite's default (128MB) the WASM memory grows past its initial 128 MiB to 189 MiB, of which 151 MiB
 * is resident, and the buffer pool then fills with table and index pages as logins write token rows. 16MB holds
 * the service's working set (the login's identity/auth rows, the right edge of the token table and its indexes)
 * and keeps the WASM memory within its initial 128 MiB, ~27 MiB of it resident (bench/memory.ts). Pages that fall
 * out of the pool stay in the OS page cache of the data directory's files. wal_buffers follows at 1/32 (512kB).
 * wal_init_zero=off: a new 16 MB WAL segment is not zero-filled first, which through PGlite's file system
 * stalled the statement that crossed into it for 60-90 ms (about every 10,000 logins); WAL records carry
 * their own CRCs, so recovery does not rely on the zeroes. Otherwise PGlite's defaults (durability
 * included) are kept as they are.
 */
const PGLITE_START_PARAMS = [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB", "-c", "wal_init_zero=off"];

/**
 * An in-memory database starts from a migrated snapshot made once per process: PGlite's initdb costs
 * seconds, loading a snapshot a fraction of that (tests open many in-memory databases).
 */
let memoryTemplate: Promise<Blob> | undefined;
function migratedMemoryTemplate(): Promise<Blob> {
  memoryTemplate ??= (async () => {
    const client = await PGlite.create({ startParams: PGLITE_START_PARAMS, ...(await pgliteAssets()) });
    try {
      await migrateDatabase({ db: drizzlePglite(client, { schema }) as unknown as Db, driver: "pglite", ping: async () => {}, close: async () => {} }, undefined);
      return await client.dumpDataDir("none");
    } finally {
      await client.close();
    }
  })();
  memoryTemplate.catch(() => (memoryTemplate = undefined));
  return memoryTemplate;
}

/** A new data directory starts from the installed PGlite's template; without one, PGlite runs initdb (~1 GiB once). */
async function onDisk(dataDir: string): Promise<string> {
  const pgdata = `${dataDir.replace(/\/$/, "")}/pgdata`;
  if (!existsSync(pgdata) && !(await restoreTemplate(pgdata))) {
    console.error("certauth: no PGlite template in this install (npm install makes one), so initdb runs: the first start peaks near 1 GiB of memory");
  }
  return pgdata;
}

async function openPglite(options: OpenOptions): Promise<Database> {
  const client =
    options.url === "memory://"
      ? await PGlite.create({ loadDataDir: await migratedMemoryTemplate(), startParams: PGLITE_START_PARAMS, ...(await pgliteAssets()) })
      : await PGlite.create(await onDisk(options.dataDir), { startParams: PGLITE_START_PARAMS, ...(await pgliteAssets()) });
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  let closed = false;
  return {
    db,
    driver: "pglite",
    ping: async () => {
      if (closed) throw new Error("database closed");
      await db.execute(sql`select 1`);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}

/** Errors that mean "the database is not there right now", as opposed to a bug in a query. */
export function isUnavailableError(err: unknown): boolean {
  for (let e: any = err, depth = 0; e && depth < 5; e = e.cause, depth++) {
    const code = typeof e.code === "string" ? e.code : "";
    if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|CONNECT_TIMEOUT|CONNECTION_CLOSED|CONNECTION_ENDED|CONNECTION_DESTROYED)$/.test(code)) return true;
    // 57P01 admin shutdown, 57P03 cannot connect now, 08xxx connection exceptions, 57014 statement timeout
    if (/^(57P0[1-3]|08\d{3}|57014|53300)$/.test(code)) return true;
    if (typeof e.message === "string" && /database closed|PGlite is closed/i.test(e.message)) return true;
  }
  return false;
}

/** PostgreSQL refused text a client sent (a NUL, or bytes invalid in UTF-8): the request's fault, not ours. */
export function isUnstorableTextError(err: unknown): boolean {
  for (let e: any = err, depth = 0; e && depth < 5; e = e.cause, depth++) {
    // 22021 character_not_in_repertoire, 22P05 untranslatable_character
    if (e.code === "22021" || e.code === "22P05") return true;
  }
  return false;
}
