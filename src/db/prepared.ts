import { PGlite, protocol } from "@electric-sql/pglite";
import type { Sql } from "postgres";
import type { Db } from "./client.ts";

/** A statement's parameters, in text form, and its rows with every column as text (null stays null). */
export type TextParam = string | null;
export type TextRow = (string | null)[];
export type PreparedStatement = (params: TextParam[]) => Promise<TextRow[]>;

/**
 * A statement parsed and planned once per connection, for the login's hot path. PGlite's `query()` sends
 * Parse, Describe, Bind, Describe, Execute and Sync as six calls into the WASM engine and re-plans every
 * time (a three-table join: ~1 ms); a named statement costs one Bind/Execute/Sync call (~0.15 ms).
 * postgres.js prepares named statements itself. Select columns cast to text, so both drivers answer alike.
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

/**
 * Every PGlite call leaves buffers behind whose memory the garbage collector does not count as pressure
 * (about 3 KB of RSS per call), and the collector lets a busy service's heap swell by tens of MiB of
 * garbage between full collections. So, on Bun (Node and Deno have no such call without flags), every
 * so many statements: a quick collection (under 1 ms), and a full one (~25 ms with PGlite's heap) once
 * RSS has grown GARBAGE_ALLOWANCE past where the last full one left it. A few full collections per
 * 100,000 logins keep the service near its resting size.
 */
const STATEMENTS_PER_COLLECTION = 200;
const GARBAGE_ALLOWANCE = 8 * 2 ** 20;
let statementsSinceCollection = 0;
let rssAfterFullCollection = 0;
const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
function countStatement() {
  if (!bun || ++statementsSinceCollection < STATEMENTS_PER_COLLECTION) return;
  statementsSinceCollection = 0;
  const rss = process.memoryUsage.rss();
  if (rssAfterFullCollection === 0 || rss > rssAfterFullCollection + GARBAGE_ALLOWANCE) {
    bun.gc(true);
    rssAfterFullCollection = process.memoryUsage.rss();
  } else {
    bun.gc(false);
  }
}

function pgliteStatement(client: PGlite, name: string, text: string): PreparedStatement {
  const { serialize } = protocol;
  let parsed: PGlite | null = null;
  return (params) =>
    // The same two locks as PGlite's own query(): nothing else's messages can interleave with ours.
    client._runExclusiveTransaction(() =>
      client._runExclusiveQuery(async () => {
        if (parsed !== client) {
          await client.execProtocol(concat([serialize.parse({ name, text }), serialize.sync()]));
          parsed = client;
        }
        const { messages } = await client.execProtocol(
          concat([serialize.bind({ statement: name, values: params }), serialize.execute({}), serialize.sync()]),
        );
        countStatement();
        const rows: TextRow[] = [];
        for (const message of messages) {
          if (message.name === "dataRow") rows.push((message as InstanceType<typeof protocol.messages.DataRowMessage>).fields as TextRow);
        }
        return rows;
      }),
    );
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
