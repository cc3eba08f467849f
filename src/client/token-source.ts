import { CertauthStatusError } from "./errors.ts";
import { TokenKeeper, type ClientEvent, type HeldToken } from "./keeper.ts";
import type { ClientOptions } from "./options.ts";
import { backoffDelay, DEFAULT_MAX_BACKOFF_MS } from "./schedule.ts";

export interface TokenSourceOptions extends ClientOptions {
  /** The longest wait between attempts while the server is unreachable or refuses; default 60 000. */
  maxBackoffMs?: number;
  /** Called on each login, renewal, refused renewal and credentials load; never given the token. */
  onEvent?: (event: ClientEvent) => void;
}

export interface TokenSource {
  /** A valid access token: the held one, or a new one when there is none worth handing out. */
  token(): Promise<string>;
  /** Drops connections and TLS sessions; token() refuses afterwards. */
  close(): void;
}

/** How often token() may stat the credential files. */
const STAT_INTERVAL_MS = 1000;
/** A token this close to its expiry (at most; a tenth of its life for short ones) is not handed out. */
const EXPIRY_MARGIN_MS = 5000;

/**
 * An always-fresh token, without timers (nothing keeps a process alive): token() answers the held token at
 * once and, past two thirds of its life or after the credential files moved, starts the next step in the
 * background; it waits only when no held token is still usable. Concurrent calls share one request, and after a
 * failure no request is made before the back-off has passed.
 */
export function tokenSource(options: TokenSourceOptions): TokenSource {
  const keeper = new TokenKeeper(options, options.onEvent);
  const maxBackoffMs = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  let inflight: Promise<HeldToken> | undefined;
  let failures = 0;
  let lastError: unknown;
  let retryAt = 0;
  let statAt = 0;
  let closed = false;

  const step = (): Promise<HeldToken> =>
    (inflight ??= keeper
      .step()
      .then(
        (held) => {
          failures = 0;
          return held;
        },
        (err: unknown) => {
          failures++;
          lastError = err;
          const asked = err instanceof CertauthStatusError && err.retryAfterSeconds !== undefined ? Math.min(err.retryAfterSeconds * 1000, maxBackoffMs) : 0;
          retryAt = Date.now() + Math.max(backoffDelay(failures, maxBackoffMs), asked);
          throw err;
        },
      )
      .finally(() => (inflight = undefined)));

  const usable = (held: HeldToken, now: number) => now < held.expiresAt - Math.min(EXPIRY_MARGIN_MS, (held.expiresAt - held.obtainedAt) / 10);

  return {
    async token() {
      if (closed) throw new Error("certauth: this token source is closed");
      let now = Date.now();
      let moved = false;
      if (now - statAt >= STAT_INTERVAL_MS) {
        statAt = now;
        moved = await keeper.credentialsMoved();
        now = Date.now();
      }
      const held = keeper.held;
      if (held && usable(held, now)) {
        if ((moved || keeper.due(now)) && now >= retryAt) step().catch(() => {});
        return held.answer.accessToken;
      }
      if (inflight) return (await inflight).answer.accessToken;
      if (now < retryAt) throw lastError;
      return (await step()).answer.accessToken;
    },
    close() {
      closed = true;
      keeper.close();
    },
  };
}
