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
 * Every PGlite call leaves buffers behind that the garbage collector does not count as pressure (about
 * 3 KB of RSS per call), so a busy service on PGlite swells by 100+ MiB before collections catch up.
 * Collecting often under load costs ~20 % of login throughput (a full collection with PGlite's heap takes
 * tens of ms), so on Bun (Node and Deno have no such call without flags) the service collects:
 *  - once the database has been idle for IDLE_MS after a burst: the swelling goes when the load does;
 *  - under sustained load, once RSS has grown PRESSURE_BYTES past where the last collection left it,
 *    at most every PRESSURE_INTERVAL_MS.
 */
const IDLE_MS = 1000;
const PRESSURE_BYTES = 48 * 2 ** 20;
const PRESSURE_INTERVAL_MS = 30_000;
const STATEMENTS_PER_CHECK = 200;
const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
const collector = {
  statements: 0,
  sinceCheck: 0,
  idleTimer: undefined as ReturnType<typeof setInterval> | undefined,
  rssAfter: 0,
  at: 0,
  collect() {
    bun!.gc(true);
    this.rssAfter = process.memoryUsage.rss();
    this.at = performance.now();
  },
};
function countStatement() {
  if (!bun) return;
  collector.statements++;
  if (!collector.idleTimer) {
    // Polls for quiet rather than re-arming a timer per statement; unref'd, so it never holds the process open.
    let seen = -1;
    collector.idleTimer = setInterval(() => {
      if (collector.statements !== seen) {
        seen = collector.statements;
        return;
      }
      clearInterval(collector.idleTimer);
      collector.idleTimer = undefined;
      collector.collect();
    }, IDLE_MS);
    collector.idleTimer.unref?.();
  }
  if (++collector.sinceCheck < STATEMENTS_PER_CHECK) return;
  collector.sinceCheck = 0;
  if (collector.rssAfter === 0) collector.rssAfter = process.memoryUsage.rss();
  if (process.memoryUsage.rss() > collector.rssAfter + PRESSURE_BYTES && performance.now() - collector.at > PRESSURE_INTERVAL_MS) {
    collector.collect();
  }
}

function pgliteStatement(client: PGlite, name: string, text: string): PreparedStatement {
  const { serialize } = protocol;
  let parsed: PGlite | null = null;
  // After each call PGlite asks its filesystem to sync, through a mutex and two promise hops (~40 µs). On
  // disk (NodeFS, where writes go straight to files) and in memory that sync does nothing, so it is skipped;
  // a browser filesystem (idb://, opfs-ahp://), which never runs here, would keep it.
  const options = { syncToFs: /^[a-z-]+:\/\//.test(client.dataDir ?? "") && !client.dataDir!.startsWith("memory://") };
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
          options,
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
