import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import postgres from "postgres";
import type { Database } from "./client.ts";

/** Where the generated SQL migrations live; the single binary points this at its embedded copy. */
export let migrationsFolder = new URL("../../drizzle", import.meta.url).pathname;
export function setMigrationsFolder(path: string): void {
  migrationsFolder = path;
}

/** Any fixed number: instances starting together take turns on this advisory lock. */
const MIGRATION_LOCK = 7_431_002;

export async function migrateDatabase(database: Database, url: string | undefined): Promise<void> {
  if (database.driver === "pglite") {
    await migratePglite(database.db as unknown as PgliteDatabase, { migrationsFolder });
    return;
  }
  const client = postgres(url!, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await migratePostgres(drizzlePostgres(client), { migrationsFolder });
    await client`select pg_advisory_unlock(${MIGRATION_LOCK})`;
  } finally {
    await client.end({ timeout: 5 });
  }
}
