import { eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { settings } from "../db/schema.ts";
import { sha256 } from "./auth.ts";

const KEY = "admin_token_sha256";
const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const fromHex = (hex: string) => new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));

/**
 * The SHA-256 of the admin token. From ADMIN_TOKEN when set; otherwise the first instance to start
 * generates one, stores only its hash, and hands the token to `reveal` exactly once.
 */
export async function ensureAdminToken(db: Db, configured: string | undefined, reveal: (token: string) => void): Promise<Uint8Array> {
  if (configured) return sha256(configured);
  const [existing] = await db.select().from(settings).where(eq(settings.key, KEY)).limit(1);
  if (existing) return fromHex(existing.value);
  const token = `certauth_admin_${toHex(crypto.getRandomValues(new Uint8Array(32)))}`;
  const hash = await sha256(token);
  const inserted = await db.insert(settings).values({ key: KEY, value: toHex(hash) }).onConflictDoNothing().returning();
  if (inserted.length) {
    reveal(token);
    return hash;
  }
  const [winner] = await db.select().from(settings).where(eq(settings.key, KEY)).limit(1);
  return fromHex(winner!.value);
}
