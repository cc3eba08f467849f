/** TTL rules shared by login and renew. Seconds throughout; 0 TTL = up to the max, 0 max = no max. */
export interface TtlPolicy {
  accessTokenTTL: number;
  accessTokenMaxTTL: number;
}

/** The longest a token may live, in seconds: its max TTL, never above the service-wide ceiling. */
function maxLifetime(policy: TtlPolicy, ceiling: number): number {
  return policy.accessTokenMaxTTL > 0 ? Math.min(policy.accessTokenMaxTTL, ceiling) : ceiling;
}

/** The lifetime a new token gets: never past its max TTL nor the service-wide ceiling. */
export function initialLifetime(policy: TtlPolicy, ceiling: number): number {
  const max = maxLifetime(policy, ceiling);
  const ttl = policy.accessTokenTTL > 0 ? policy.accessTokenTTL : max;
  return Math.min(ttl, max);
}

/** The instant no renewal can go past: createdAt + max TTL (or the ceiling). */
export function maxExpiry(policy: TtlPolicy, createdAt: Date, ceiling: number): Date {
  return new Date(createdAt.getTime() + maxLifetime(policy, ceiling) * 1000);
}

/**
 * The expiry a renewal gives, or null when the token has reached its max TTL. The max is anchored at the
 * token's creation, so renewing never stretches a token past createdAt + maxTTL (or the ceiling).
 */
export function renewedExpiry(policy: TtlPolicy, createdAt: Date, now: Date, ceiling: number): Date | null {
  const hardEnd = maxExpiry(policy, createdAt, ceiling).getTime();
  if (now.getTime() >= hardEnd) return null;
  const ttl = policy.accessTokenTTL > 0 ? policy.accessTokenTTL : maxLifetime(policy, ceiling);
  return new Date(Math.min(now.getTime() + ttl * 1000, hardEnd));
}
