/**
 * Instances starting together on an empty database, or rotating at once, end with one unretired signing key per
 * algorithm: a second key made in the race would be published but never retired. On PostgreSQL each "instance"
 * is a database handle of its own (its own connection pool); on PGlite, concurrent callers in one process.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { and, eq, isNull } from "drizzle-orm";
import { createTestDatabase, storageDrivers, type TestDatabase } from "../helpers/databases.ts";
import { openDatabase, type Database } from "../../src/db/client.ts";
import { signingKeys } from "../../src/db/schema.ts";
import { KeyEncryption, KeyStore, type AsymmetricAlg } from "../../src/tokens/key-store.ts";

const KEK = "test-key-encryption-key-0123456789abcdef";
const INSTANCES = 6;
const drivers = await storageDrivers();

describe.each(drivers)("signing keys made by instances at once, on %s", (driver) => {
  let test: TestDatabase;
  const handles: Database[] = [];

  beforeAll(async () => {
    test = await createTestDatabase(driver);
    const first = await openDatabase({ url: test.url, dataDir: "" });
    handles.push(first);
    // PGlite in memory is one database per handle: its "instances" share the handle.
    for (let i = 1; i < INSTANCES; i++) handles.push(driver === "postgres" ? await openDatabase({ url: test.url, dataDir: "" }) : first);
  }, 60_000);
  afterAll(async () => {
    for (const h of new Set(handles)) await h.close();
    await test?.drop();
  });

  const unretired = async (alg: AsymmetricAlg) =>
    handles[0]!.db
      .select({ kid: signingKeys.kid })
      .from(signingKeys)
      .where(and(eq(signingKeys.alg, alg), isNull(signingKeys.retiredAt)));

  for (const alg of ["EdDSA", "ES256"] as const) {
    it(`${alg}: the first key is made once, and every instance signs with it`, async () => {
      const kek = await KeyEncryption.fromSecret(KEK);
      const kids = await Promise.all(handles.map((h) => new KeyStore(h.db, kek).activeKey(alg).then((k) => k.kid)));
      expect(new Set(kids).size).toBe(1);
      expect((await unretired(alg)).map((r) => r.kid)).toEqual([kids[0]!]);
    }, 30_000);

    it(`${alg}: rotations at once leave one unretired key, and every replaced key published until the given time`, async () => {
      const kek = await KeyEncryption.fromSecret(KEK);
      const until = new Date(Date.now() + 3600_000);
      const made = await Promise.all(handles.slice(0, 3).map((h) => new KeyStore(h.db, kek).rotate(alg, until).then((k) => k.kid)));
      const left = (await unretired(alg)).map((r) => r.kid);
      expect(left).toHaveLength(1);
      expect(made).toContain(left[0]!);
      const rows = await handles[0]!.db.select().from(signingKeys).where(eq(signingKeys.alg, alg));
      for (const row of rows.filter((r) => r.kid !== left[0])) {
        expect(row.retiredAt).not.toBeNull();
        expect(row.publishUntil?.getTime()).toBe(until.getTime());
      }
    }, 30_000);
  }
});
