/** When to renew and how long to wait after a failure: the one policy of tokenSource and `certauth agent`. */

/** A token is renewed at about two thirds of its life… */
const RENEW_AT = 2 / 3;
/** …give or take 5% of it, so that workloads started together do not renew together. */
const RENEW_JITTER = 0.1;

/** The first wait after a failure; each further failure doubles it, up to the cap. */
export const BACKOFF_BASE_MS = 1000;
export const DEFAULT_MAX_BACKOFF_MS = 60_000;

/** The moment to renew a token of `lifeMs` obtained at `now`. */
export function renewalTime(now: number, lifeMs: number, random: () => number = Math.random): number {
  return now + lifeMs * (RENEW_AT + (random() - 0.5) * RENEW_JITTER);
}

/**
 * The wait before attempt `failures + 1`: between half and all of min(cap, base · 2^(failures−1)), so that
 * clients failing together spread out, and never less than half a second.
 */
export function backoffDelay(failures: number, maxMs: number = DEFAULT_MAX_BACKOFF_MS, random: () => number = Math.random): number {
  const step = Math.min(maxMs, BACKOFF_BASE_MS * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return Math.max(step / 2 + (random() * step) / 2, BACKOFF_BASE_MS / 2);
}
