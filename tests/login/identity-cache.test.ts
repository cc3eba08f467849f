/**
 * The remembered identity rows of the login are bounded by bytes (8 MiB), not by count: rows carrying the
 * largest tokenAudiences and claimMappings push the least recently used out long before plain rows would,
 * and plain rows are not capped at a count a large row would need.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { openDatabase, type Database } from "../../src/db/client.ts";
import { identities, identityTlsCertAuths, organizations } from "../../src/db/schema.ts";
import { identityLookup } from "../../src/login/identities.ts";
import { createTestDatabase, storageDrivers, type TestDatabase } from "../helpers/databases.ts";

/** The largest a tenant admin may attach: 8 audiences of 256 characters, 16 mappings of 64-character names. */
const LARGEST = {
  tokenAudiences: Array.from({ length: 8 }, (_, i) => `${"a".repeat(254)}-${i}`),
  claimMappings: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`${"c".repeat(62)}${String(i).padStart(2, "0")}`, `ext:1.3.6.1.4.1.${"9".repeat(12)}.${i}`])),
};
/** A large row is about 4 KiB of JSON, charged twice that as UTF-16: about a thousand fit in 8 MiB. */
const LARGE_ROWS = 2000;
/** Plain rows are a few hundred bytes: this many fit in the same budget. */
const PLAIN_ROWS = 3000;

async function insertIdentities(db: Database["db"], count: number, settings: Partial<typeof identityTlsCertAuths.$inferInsert>): Promise<string[]> {
  const [org] = await db.insert(organizations).values({ name: "cache", slug: `cache-${crypto.randomUUID().slice(0, 8)}`, rootOrgId: crypto.randomUUID() }).returning();
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  for (let i = 0; i < count; i += 500) {
    const slice = ids.slice(i, i + 500);
    await db.insert(identities).values(slice.map((id) => ({ id, name: `id-${id}`, orgId: org!.id })));
    await db.insert(identityTlsCertAuths).values(
      slice.map((identityId) => ({
        identityId,
        caCertificate: "-----BEGIN CERTIFICATE-----",
        accessTokenTrustedIps: [],
        accessTokenTTL: 60,
        accessTokenMaxTTL: 60,
        ...settings,
      })),
    );
  }
  return ids;
}

for (const driver of await storageDrivers()) {
  describe(`remembered identity rows (${driver})`, () => {
    let testDb: TestDatabase;
    let database: Database;
    beforeAll(async () => {
      testDb = await createTestDatabase(driver);
      database = await openDatabase({ url: testDb.url, dataDir: "" });
    }, 60_000);
    afterAll(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it("forgets the least recently used large rows once they fill 8 MiB, and keeps thousands of plain ones", async () => {
      const large = await insertIdentities(database.db, LARGE_ROWS, LARGEST);
      const plain = await insertIdentities(database.db, PLAIN_ROWS, {});
      const lookup = identityLookup(database.db);

      const rows = await Promise.all(large.map((id) => lookup.read(id)));
      expect(rows.every((row) => row?.tlsCertAuth?.claimMappings !== null)).toBe(true);
      const kept = large.filter((id) => lookup.remembered(id) !== undefined);
      // The most recent stay, the oldest went: LRU within the byte budget.
      expect(lookup.remembered(large.at(-1)!)).toBeDefined();
      expect(lookup.remembered(large[0]!)).toBeUndefined();
      expect(kept.length).toBeGreaterThan(100);
      const bytesPerRow = 2 * JSON.stringify(rows[0]).length;
      expect(kept.length).toBeLessThanOrEqual(Math.ceil((8 * 1024 * 1024) / bytesPerRow));

      // Rows are charged by size: far more plain rows than large ones fit.
      await Promise.all(plain.map((id) => lookup.read(id)));
      expect(plain.every((id) => lookup.remembered(id) !== undefined)).toBe(true);
      expect(PLAIN_ROWS).toBeGreaterThan(2 * kept.length);
    }, 60_000);
  });
}
