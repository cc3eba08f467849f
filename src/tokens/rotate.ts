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
  const oldKeysPublishedUntil = replacedKeysPublishedUntil(maxTokenTtl, now);
  const key = await keys.rotate(alg, oldKeysPublishedUntil);
  return { kid: key.kid, alg, oldKeysPublishedUntil };
}

/**
 * At start: the keys of an algorithm TOKEN_SIGNING_ALG no longer names are retired like rotated ones, so the
 * tokens they signed stay valid until they expire and then the keys leave the JWKS. Answers the retired kids.
 */
export async function retireOtherAlgorithms(keys: KeyStore, alg: AsymmetricAlg | "HS256", maxTokenTtl: number, now = new Date()): Promise<string[]> {
  return keys.retireOtherAlgorithms(alg, replacedKeysPublishedUntil(maxTokenTtl, now));
}

/** Until when a key stops signing at `now` must stay published: its last token, and instances yet to notice, included. */
export function replacedKeysPublishedUntil(maxTokenTtl: number, now: Date): Date {
  return new Date(now.getTime() + maxTokenTtl * 1000 + 2 * ACTIVE_KEY_REFRESH_MS);
}
