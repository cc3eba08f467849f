import { PGlite } from "@electric-sql/pglite";
import type { Sql } from "postgres";
import type { Db } from "./database.ts";
import { pgliteStatement, type PreparedStatement, type TextRow } from "./pglite-driver.ts";

export type { PreparedStatement, TextParam, TextRow } from "./pglite-driver.ts";

/**
 * A statement parsed and planned once per connection, for the login's hot path; postgres.js prepares named
 * statements itself. Select columns cast to text, so both drivers answer alike.
 */
export function prepareStatement(db: Db, name: string, text: string): PreparedStatement {
  const client = (db as unknown as { $client: PGlite | Sql }).$client;
  if (client instanceof PGlite) return pgliteStatement(client, name, text);
  const sql = client as Sql;
  return async (params) => {
    const rows = await sql.unsafe(text, params, { prepare: true }).values();
    return rows as unknown as TextRow[];
  };
}

/** Whether `db` is the embedded PGlite (one process, one statement at a time) rather than a PostgreSQL server. */
export function isEmbedded(db: Db): boolean {
  return (db as unknown as { $client: unknown }).$client instanceof PGlite;
}
