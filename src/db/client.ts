import { existsSync } from "node:fs";
import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import * as schema from "./schema.ts";
import type { Database, Db } from "./database.ts";
import { migrateDatabase } from "./migrate.ts";
import { restoreTemplate } from "./pglite-template.ts";

export type { Database, Db } from "./database.ts";

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
    await migrateDatabase(database.db, database.driver === "postgres" ? options.url : undefined);
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
    // postgres.js's own backoff holds queued queries for many seconds; a short capped wait answers 503 sooner.
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
 * shared_buffers is resident from the start (postgres zero-fills it), so it is sized to the service's working
 * set, within PGlite's initial WASM memory; wal_init_zero=off because zero-filling a new WAL segment through
 * PGlite's file system stalls a login (WAL records carry their own CRCs). Other defaults, durability included,
 * stay PGlite's. Figures: README, "Memory on PGlite".
 */
const PGLITE_START_PARAMS = [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB", "-c", "wal_init_zero=off"];

/** An in-memory database starts from a migrated snapshot made once per process: initdb is slow, and tests open many. */
let memoryTemplate: Promise<Blob> | undefined;
function migratedMemoryTemplate(): Promise<Blob> {
  memoryTemplate ??= (async () => {
    const client = await PGlite.create({ startParams: PGLITE_START_PARAMS, ...(await pgliteAssets()) });
    try {
      await migrateDatabase(drizzlePglite(client, { schema }) as unknown as Db, undefined);
      return await client.dumpDataDir("none");
    } finally {
      await client.close();
    }
  })();
  memoryTemplate.catch(() => (memoryTemplate = undefined));
  return memoryTemplate;
}

/** A new data directory starts from the installed PGlite's template; without one, PGlite runs its initdb, which peaks high. */
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
