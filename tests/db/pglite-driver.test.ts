/**
 * What src/db/pglite-driver.ts relies on in PGlite beyond its public API: the exact version package.json pins,
 * the two private locks that PGlite's own query() and transaction() take, and a named statement run through
 * the wire protocol. An upgrade that changes any of it fails here before it fails a login.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { onPgliteStatement, pgliteStatement } from "../../src/db/pglite-driver.ts";

const ROOT = new URL("../../", import.meta.url);
const pinned = JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8")).dependencies["@electric-sql/pglite"] as string;
const installed = JSON.parse(readFileSync(new URL("node_modules/@electric-sql/pglite/package.json", ROOT), "utf8")).version as string;

/** A promise and the function that settles it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Lets other work run for a while: long enough for an unlocked query to finish. */
const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 100));

let client: PGlite;
beforeAll(async () => {
  client = await PGlite.create();
});
afterAll(() => client.close());

describe("the PGlite the driver was written against", () => {
  it("is pinned to one exact version, the installed one", () => {
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed).toBe(pinned);
  });

  it("makes query() wait while _runExclusiveQuery holds the engine", async () => {
    const order: string[] = [];
    const held = gate();
    const section = client._runExclusiveQuery(async () => {
      order.push("section");
      await held.opened;
      order.push("section done");
    });
    const query = client.query("select 1").then(() => order.push("query"));
    await pause();
    expect(order).toEqual(["section"]);
    held.open();
    await Promise.all([section, query]);
    expect(order).toEqual(["section", "section done", "query"]);
  });

  it("makes transaction() wait while _runExclusiveTransaction holds the session", async () => {
    const order: string[] = [];
    const held = gate();
    const section = client._runExclusiveTransaction(async () => {
      order.push("section");
      await held.opened;
      order.push("section done");
    });
    const transaction = client.transaction(async (tx) => {
      await tx.query("select 1");
      order.push("transaction");
    });
    await pause();
    expect(order).toEqual(["section"]);
    held.open();
    await Promise.all([section, transaction]);
    expect(order).toEqual(["section", "section done", "transaction"]);
  });
});

describe("a prepared statement on PGlite", () => {
  it("answers text rows, null kept, on its first and later runs, and reports each run", async () => {
    let ran = 0;
    onPgliteStatement(() => ran++);
    const statement = pgliteStatement(client, "driver_test_echo", "select $1::text as a, null::text as b, ($2::int + 1)::text as c");
    expect(await statement(["x", "1"])).toEqual([["x", null, "2"]]);
    expect(await statement(["y", "41"])).toEqual([["y", null, "42"]]);
    expect(ran).toBe(2);
    onPgliteStatement(() => {});
  });

  it("leaves the session usable by PGlite's own queries, including after an error", async () => {
    const failing = pgliteStatement(client, "driver_test_fail", "select 1 / $1::int");
    await expect(failing(["0"])).rejects.toThrow(/division by zero/);
    expect((await client.query<{ n: number }>("select 2 as n")).rows).toEqual([{ n: 2 }]);
    expect(await failing(["1"])).toEqual([["1"]]);
  });
});
