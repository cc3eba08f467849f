/**
 * The token store's guarantee behind use and renewal (PRODUCT.md §2.4): a change is made only on a row that
 * passes every check a use makes, judged in the same statement, on both storage drivers.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { openDatabase, type Database } from "../../src/db/client.ts";
import { identities, identityAccessTokens, identityTlsCertAuths, organizations } from "../../src/db/schema.ts";
import { tokenStore, type TokenStore, type UseCheck } from "../../src/tokens/store.ts";
import { createTestDatabase, storageDrivers, type TestDatabase } from "../helpers/databases.ts";

const drivers = await storageDrivers();
const hour = 3600_000;

describe.each(drivers)("token store on %s", (driver) => {
  let testDb: TestDatabase;
  let database: Database;
  let store: TokenStore;

  beforeAll(async () => {
    testDb = await createTestDatabase(driver);
    database = await openDatabase({ url: testDb.url, dataDir: "" });
    store = tokenStore(database.db);
  }, 60_000);
  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  /** A token of an identity whose TLS cert auth trusts 10.0.0.0/8 only. */
  async function token(row: Partial<typeof identityAccessTokens.$inferInsert> = {}) {
    const db = database.db;
    const [org] = await db.insert(organizations).values({ name: "o", slug: crypto.randomUUID(), rootOrgId: crypto.randomUUID() }).returning();
    const [identity] = await db.insert(identities).values({ name: "i", orgId: org!.id }).returning();
    await db.insert(identityTlsCertAuths).values({
      identityId: identity!.id,
      caCertificate: "unused here",
      accessTokenTrustedIps: [{ ipAddress: "10.0.0.0", type: "ipv4", prefix: 8 }],
      accessTokenTTL: 3600,
      accessTokenMaxTTL: 7200,
    });
    const [created] = await db
      .insert(identityAccessTokens)
      .values({ identityId: identity!.id, orgId: org!.id, authMethod: "tls-cert-auth", expiresAt: new Date(Date.now() + hour), accessTokenTTL: 3600, accessTokenMaxTTL: 7200, ...row })
      .returning();
    return created!;
  }

  const passing = (): UseCheck => ({ now: new Date(), clientIp: "10.1.2.3", claimMatches: true, presented: null });
  const later = () => new Date(Date.now() + 2 * hour);

  it("renews and counts a use of a token that passes every check", async () => {
    const { id } = await token({ numUsesLimit: 2 });
    expect((await store.renew(id, passing(), later()))?.outcome).toBe(true);
    expect((await store.use(id, passing()))?.outcome).toBe(1);
    expect((await store.read(id, null))?.expiresAt.getTime()).toBeGreaterThan(Date.now() + 1.5 * hour);
  });

  const refusals: [string, Partial<typeof identityAccessTokens.$inferInsert>, Partial<UseCheck>][] = [
    ["revoked", { revokedAt: new Date() }, {}],
    ["expired", { expiresAt: new Date(Date.now() - 1000) }, {}],
    ["out of uses", { numUsesLimit: 1, numUses: 1 }, {}],
    ["used from an untrusted IP", {}, { clientIp: "192.0.2.1" }],
    ["used from an unreadable IP", {}, { clientIp: "not an address" }],
    ["bound to another certificate", { certThumbprint: "bound" }, { presented: "other" }],
    ["presented with a certificate that does not match its cnf claim", {}, { claimMatches: false }],
  ];
  for (const [what, row, check] of refusals) {
    it(`neither renews nor counts a use of a token ${what}, and answers the state it judged`, async () => {
      const created = await token(row);
      const renewed = await store.renew(created.id, { ...passing(), ...check }, later());
      expect(renewed?.outcome).toBeNull();
      expect(renewed?.state.id).toBe(created.id);
      expect((await store.use(created.id, { ...passing(), ...check }))?.outcome).toBeNull();
      const after = await store.read(created.id, null);
      expect(after?.expiresAt.getTime()).toBe(created.expiresAt.getTime());
      expect(after?.numUses).toBe(created.numUses);
    });
  }

  it("neither renews nor counts a use once TLS cert auth is detached from the identity", async () => {
    const created = await token();
    await database.db.delete(identityTlsCertAuths).where(eq(identityTlsCertAuths.identityId, created.identityId));
    const renewed = await store.renew(created.id, passing(), later());
    expect(renewed).toMatchObject({ outcome: null, state: { configured: false } });
    expect((await store.read(created.id, null))?.expiresAt.getTime()).toBe(created.expiresAt.getTime());
  });

  it("answers nothing for a token whose identity is gone", async () => {
    const created = await token();
    await database.db.delete(identities).where(eq(identities.id, created.identityId));
    expect(await store.renew(created.id, passing(), later())).toBeNull();
    expect(await store.use(created.id, passing())).toBeNull();
  });

  it("never shortens a token's expiry on renewal", async () => {
    const created = await token();
    expect((await store.renew(created.id, passing(), new Date(Date.now() + 60_000)))?.outcome).toBe(true);
    expect((await store.read(created.id, null))?.expiresAt.getTime()).toBe(created.expiresAt.getTime());
  });
});
