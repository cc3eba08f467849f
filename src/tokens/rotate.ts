import type { AsymmetricAlg, KeyStore } from "./key-store.ts";

/** How often an instance looks for a key another instance rotated in. */
export const ACTIVE_KEY_REFRESH_MS = 30_000;

export interface Rotation {
  kid: string;
  alg: AsymmetricAlg;
  /** Until when the keys it replaced stay in the JWKS. */
  oldKeysPublishedUntil: Date;
}

/**
 * Starts signing with a fresh key (`certauth keys rotate`). The replaced keys stay published until the last
 * token they may still sign can have expired: no token outlives `maxTokenTtl`, and an instance that has not
 * yet seen the new key keeps signing with the old one for up to the refresh interval.
 */
export async function rotateSigningKey(keys: KeyStore, alg: AsymmetricAlg, maxTokenTtl: number, now = new Date()): Promise<Rotation> {
  const oldKeysPublishedUntil = new Date(now.getTime() + maxTokenTtl * 1000 + 2 * ACTIVE_KEY_REFRESH_MS);
  const key = await keys.rotate(alg, oldKeysPublishedUntil);
  return { kid: key.kid, alg, oldKeysPublishedUntil };
}
