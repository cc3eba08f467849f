/**
 * The storage drivers every storage-backed suite runs against: embedded PGlite (in memory) and the real
 * PostgreSQL at 127.0.0.1:5432 (or PG_TEST_URL), each test file in a database it creates and drops.
 * By hand without PostgreSQL the PostgreSQL half is skipped with a visible line; under CI=true it must run.
 */
import postgres from "postgres";

export const PG_ADMIN_URL = process.env.PG_TEST_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestDatabase {
  name: "pglite" | "postgres";
  /** Value for DATABASE_URL; empty for the embedded database in DATA_DIR. */
  url: string;
  drop(): Promise<void>;
}

const reachable = new Map<string, Promise<boolean>>();
export function postgresReachable(adminUrl = PG_ADMIN_URL): Promise<boolean> {
  let answer = reachable.get(adminUrl);
  if (answer) return answer;
  answer = (async () => {
    const sql = postgres(adminUrl, { max: 1, connect_timeout: 3, onnotice: () => {} });
    try {
      await sql`select 1`;
      return true;
    } catch {
      return false;
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  })();
  reachable.set(adminUrl, answer);
  return answer;
}

export async function createPostgresDatabase(adminUrl = PG_ADMIN_URL, prefix = "certauth_test"): Promise<TestDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name: "postgres",
    url: url.toString(),
    async drop() {
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await sql.unsafe(`drop database if exists ${name} with (force)`);
      await sql.end();
    },
  };
}

/** The drivers to run a suite on; announces and skips PostgreSQL when it is not there outside CI. */
export async function storageDrivers(): Promise<TestDatabase["name"][]> {
  if (await postgresReachable()) return ["pglite", "postgres"];
  if (process.env.CI === "true") throw new Error(`PostgreSQL is not reachable at ${PG_ADMIN_URL}, and CI requires it`);
  console.warn(`\n*** SKIPPING the PostgreSQL half: nothing answers at ${PG_ADMIN_URL} ***\n`);
  return ["pglite"];
}

export async function createTestDatabase(name: TestDatabase["name"]): Promise<TestDatabase> {
  if (name === "postgres") return createPostgresDatabase();
  return { name: "pglite", url: "memory://", drop: async () => {} };
}

/** The embedded database in DATA_DIR (no DATABASE_URL): kept across restarts that pass the same DATA_DIR. */
export function embeddedDatabase(): TestDatabase {
  return { name: "pglite", url: "", drop: async () => {} };
}

/** The rows of a raw `db.execute`: postgres.js answers an array, PGlite `{ rows }`. */
export function rowsOf(result: unknown): Record<string, unknown>[] {
  if (Array.isArray(result)) return result as Record<string, unknown>[];
  return ((result as { rows?: Record<string, unknown>[] }).rows ?? []) as Record<string, unknown>[];
}
