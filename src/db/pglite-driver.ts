/**
 * The one file that uses PGlite's private API (the exclusive-query and exclusive-transaction locks). The
 * package is pinned to an exact version for it, and tests/db/pglite-driver.test.ts fails if an upgrade
 * changes what this relies on.
 */
import { protocol, type PGlite } from "@electric-sql/pglite";

/** A statement's parameters, in text form, and its rows with every column as text (null stays null). */
export type TextParam = string | null;
export type TextRow = (string | null)[];
export type PreparedStatement = (params: TextParam[]) => Promise<TextRow[]>;

let statementRan: () => void = () => {};

/** Told after each statement a PGlite prepared statement runs: a runtime whose collector needs the hint takes it here. */
export function onPgliteStatement(listener: () => void): void {
  statementRan = listener;
}

/**
 * A named statement, parsed once per client, then run with Bind/Execute/Sync in one call into the engine:
 * PGlite's query() sends six messages as separate calls and plans the statement again every time.
 */
export function pgliteStatement(client: PGlite, name: string, text: string): PreparedStatement {
  const { serialize } = protocol;
  let parsed: PGlite | null = null;
  // The file-system sync after each call does nothing on disk (NodeFS writes straight to files) or in memory;
  // only a browser file system (idb://, opfs-ahp://), which never runs here, needs it.
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
        statementRan();
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
