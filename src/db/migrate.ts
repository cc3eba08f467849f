import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import postgres from "postgres";
import type { Db } from "./database.ts";

/** Where the generated SQL migrations live; the single binary points this at its embedded copy. */
export let migrationsFolder = new URL("../../drizzle", import.meta.url).pathname;
export function setMigrationsFolder(path: string): void {
  migrationsFolder = path;
}

/** Any fixed number: instances starting together take turns on this advisory lock. */
const MIGRATION_LOCK = 7_431_002;

/** Applies the migrations to `db`: the embedded PGlite, or the PostgreSQL server at `postgresUrl`. */
export async function migrateDatabase(db: Db, postgresUrl: string | undefined): Promise<void> {
  if (postgresUrl === undefined) {
    await migratePglite(db as unknown as PgliteDatabase, { migrationsFolder });
    return;
  }
  const client = postgres(postgresUrl, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await migratePostgres(drizzlePostgres(client), { migrationsFolder });
    await client`select pg_advisory_unlock(${MIGRATION_LOCK})`;
  } finally {
    await client.end({ timeout: 5 });
  }
}
