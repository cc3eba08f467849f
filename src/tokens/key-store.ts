import { and, desc, eq, gt, isNotNull, isNull, lt, ne, or, sql } from "drizzle-orm";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import type { Db } from "../db/client.ts";
import { settings, signingKeys } from "../db/schema.ts";

export type AsymmetricAlg = "EdDSA" | "ES256" | "RS256";

/** RS256 keys: the size the crypto policy asks of certificates too, and what cloud relying parties accept. */
const RSA_MODULUS_BITS = 2048;

/** Any fixed number: instances creating or rotating a signing key take turns on this advisory lock. */
const SIGNING_KEY_LOCK = 7_431_003;

/** AES-GCM with a key derived from the key-encryption key; private keys never reach the database in clear. */
export class KeyEncryption {
  private constructor(private readonly key: CryptoKey) {}

  static async fromSecret(secret: string): Promise<KeyEncryption> {
    const raw = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`certauth-kek:${secret}`));
    return new KeyEncryption(await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]));
  }

  async seal(plain: string): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, this.key, new TextEncoder().encode(plain)));
    return `v1.${b64(iv)}.${b64(sealed)}`;
  }

  async open(text: string): Promise<string> {
    const [version, iv, data] = text.split(".");
    if (version !== "v1" || !iv || !data) throw new Error("unknown sealed-key format");
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: unb64(iv) }, this.key, unb64(data));
    return new TextDecoder().decode(plain);
  }
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));

export interface StoredKey {
  kid: string;
  alg: string;
  publicJwk: JWK;
  privateJwk?: JWK;
  retiredAt: Date | null;
  publishUntil: Date | null;
}

/** The signing keys every instance shares through the database. */
export class KeyStore {
  constructor(
    private readonly db: Db,
    private readonly kek: KeyEncryption,
  ) {}

  /** The key new tokens are signed with; created on first use of an algorithm. */
  async activeKey(alg: AsymmetricAlg): Promise<StoredKey> {
    return (await this.unretiredKey(alg)) ?? this.create(alg);
  }

  /** The newest unretired key of `alg`, if there is one. */
  async unretiredKey(alg: AsymmetricAlg): Promise<StoredKey | undefined> {
    const [row] = await this.db
      .select()
      .from(signingKeys)
      .where(and(eq(signingKeys.alg, alg), isNull(signingKeys.retiredAt)))
      .orderBy(desc(signingKeys.createdAt))
      .limit(1);
    return row ? this.unseal(row) : undefined;
  }

  /** Adds a new key for `alg`; the previous ones stay published until `publishOldUntil`. */
  async rotate(alg: AsymmetricAlg, publishOldUntil: Date): Promise<StoredKey> {
    const created = await this.generate(alg);
    await this.db.transaction(async (tx) => {
      // Two rotations at once take turns, so each retires what the other made and one key is left unretired.
      await tx.execute(sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`);
      await tx
        .update(signingKeys)
        .set({ retiredAt: new Date(), publishUntil: publishOldUntil })
        .where(and(eq(signingKeys.alg, alg), isNull(signingKeys.retiredAt)));
      await tx.insert(signingKeys).values(created.row);
    });
    return created.key;
  }

  /**
   * Retires the unretired keys of every algorithm but `alg` (TOKEN_SIGNING_ALG changed); they stay published until
   * `publishUntil`. Instances starting together run the same update: the first retires, the others find nothing.
   */
  async retireOtherAlgorithms(alg: string, publishUntil: Date): Promise<string[]> {
    const retired = await this.db
      .update(signingKeys)
      .set({ retiredAt: new Date(), publishUntil })
      .where(and(ne(signingKeys.alg, alg), isNull(signingKeys.retiredAt)))
      .returning({ kid: signingKeys.kid });
    return retired.map((r) => r.kid);
  }

  /** Keeps retired key `kid` published until at least `until`: an instance on its algorithm still signs with it. */
  async keepPublished(kid: string, until: Date): Promise<void> {
    await this.db
      .update(signingKeys)
      .set({ publishUntil: until })
      .where(and(eq(signingKeys.kid, kid), isNotNull(signingKeys.retiredAt), or(isNull(signingKeys.publishUntil), lt(signingKeys.publishUntil, until))));
  }

  /** Public keys still needed to verify live tokens. */
  async publishedKeys(now: Date): Promise<StoredKey[]> {
    const rows = await this.db
      .select()
      .from(signingKeys)
      .where(or(isNull(signingKeys.retiredAt), gt(signingKeys.publishUntil, now)))
      .orderBy(desc(signingKeys.createdAt));
    return rows.map((r) => ({ kid: r.kid, alg: r.alg, publicJwk: r.publicJwk as JWK, retiredAt: r.retiredAt, publishUntil: r.publishUntil }));
  }

  async findKey(kid: string): Promise<StoredKey | undefined> {
    const [row] = await this.db.select().from(signingKeys).where(eq(signingKeys.kid, kid)).limit(1);
    return row ? { kid: row.kid, alg: row.alg, publicJwk: row.publicJwk as JWK, retiredAt: row.retiredAt, publishUntil: row.publishUntil } : undefined;
  }

  /** A service-wide secret (the HS256 key when AUTH_SECRET is unset); the first instance makes it. */
  async sharedSecret(name: string): Promise<string> {
    const [existing] = await this.db.select().from(settings).where(eq(settings.key, name)).limit(1);
    if (existing) return this.kek.open(existing.value);
    const secret = b64(crypto.getRandomValues(new Uint8Array(48)));
    await this.db.insert(settings).values({ key: name, value: await this.kek.seal(secret) }).onConflictDoNothing();
    const [winner] = await this.db.select().from(settings).where(eq(settings.key, name)).limit(1);
    return this.kek.open(winner!.value);
  }

  /**
   * The first key of `alg`. Instances starting together on an empty database take turns: the first makes it,
   * the others find it, so no second key is made that nobody would ever retire.
   */
  private async create(alg: AsymmetricAlg): Promise<StoredKey> {
    const created = await this.generate(alg);
    await this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`);
      const [existing] = await tx
        .select({ kid: signingKeys.kid })
        .from(signingKeys)
        .where(and(eq(signingKeys.alg, alg), isNull(signingKeys.retiredAt)))
        .limit(1);
      if (!existing) await tx.insert(signingKeys).values(created.row);
    });
    const active = await this.unretiredKey(alg);
    if (!active) throw new Error(`no ${alg} signing key after creating one`);
    return active;
  }

  private async generate(alg: AsymmetricAlg) {
    const { publicKey, privateKey } = await generateKeyPair(alg, {
      extractable: true,
      crv: alg === "EdDSA" ? "Ed25519" : undefined,
      modulusLength: alg === "RS256" ? RSA_MODULUS_BITS : undefined,
    });
    const kid = `${alg.toLowerCase()}-${crypto.randomUUID()}`;
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg };
    const row = { kid, alg, publicJwk, privateKeyEnc: await this.kek.seal(JSON.stringify(privateJwk)) };
    return { row, key: { kid, alg, publicJwk, privateJwk, retiredAt: null, publishUntil: null } satisfies StoredKey };
  }

  private async unseal(row: typeof signingKeys.$inferSelect): Promise<StoredKey> {
    let privateJwk: JWK;
    try {
      privateJwk = JSON.parse(await this.kek.open(row.privateKeyEnc));
    } catch {
      throw new Error(
        `cannot decrypt signing key ${row.kid}: every instance sharing a database needs the same KEY_ENCRYPTION_KEY`,
      );
    }
    return { kid: row.kid, alg: row.alg, publicJwk: row.publicJwk as JWK, privateJwk, retiredAt: row.retiredAt, publishUntil: row.publishUntil };
  }
}
