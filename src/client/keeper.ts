import { Credentials, type LoadedCredentials } from "./credentials.ts";
import { CertauthStatusError } from "./errors.ts";
import { resolveOptions, type ClientOptions, type Resolved } from "./options.ts";
import { callRoute, type LoginAnswer } from "./routes.ts";
import { renewalTime } from "./schedule.ts";
import { httpsTransport, type Transport } from "./transport.ts";

/** A token and when to act on it (epoch milliseconds, by this machine's clock). */
export interface HeldToken {
  answer: LoginAnswer;
  via: "login" | "renew";
  obtainedAt: number;
  /** `Infinity` for a token that does not expire (`expiresIn: 0`, which some servers answer for TTL 0). */
  expiresAt: number;
  renewAt: number;
  /** The certificate that logged in. */
  fingerprint: string;
}

/** What happened, for a caller that logs (never a token). */
export type ClientEvent =
  | { type: "credentials_loaded"; fingerprint: string }
  /** The files on disk cannot be used (half of a rotation?): the credentials already loaded stay in use. */
  | { type: "credentials_rejected"; fingerprint: string; message: string }
  | { type: "token"; via: "login" | "renew"; expiresIn: number; fingerprint: string }
  | { type: "renew_refused"; status: number; reason?: string; message: string }
  | { type: "renew_not_extended"; expiresIn: number };

/** A renewal that moves the expiry by less than this is not worth keeping: the token is at its max TTL. */
const MIN_EXTENSION_MS = 1000;

/**
 * Holds one token and knows the next step for it: nothing yet, a renewal, or a login (first, after a refused or
 * no longer useful renewal, after the credentials changed, or when asked). One request per step; retrying
 * and waiting belong to the caller.
 */
export class TokenKeeper {
  private readonly resolved: Resolved;
  private readonly credentials: Credentials;
  private transport?: Transport;
  private loginNeeded = true;
  private current?: HeldToken;

  constructor(
    options: ClientOptions,
    private readonly onEvent: (event: ClientEvent) => void = () => {},
  ) {
    this.resolved = resolveOptions(options);
    this.credentials = new Credentials(this.resolved.sources);
  }

  /** The token held now, if any (it may have expired). */
  get held(): HeldToken | undefined {
    return this.current;
  }

  /** Whether a credential file moved on disk since it was last read. */
  credentialsMoved(): Promise<boolean> {
    return this.credentials.moved();
  }

  /** The next step logs in, whatever the held token's state (SIGHUP, a caller's explicit refresh). */
  requireLogin(): void {
    this.loginNeeded = true;
  }

  /** Whether the held token is due for the next step at `now`. */
  due(now = Date.now()): boolean {
    return this.loginNeeded || !this.held || now >= this.held.renewAt;
  }

  /**
   * Takes the step that is due, after reading the credentials again when their files moved (`reread`: even
   * when not). Answers the token held afterwards; throws the typed error of a failed request.
   */
  async step(reread = false): Promise<HeldToken> {
    const { credentials, changed, rejected } = await this.credentials.load(reread);
    if (rejected) this.onEvent({ type: "credentials_rejected", fingerprint: credentials.fingerprint, message: rejected.message });
    if (changed || !this.transport) {
      this.transport?.close();
      this.transport = httpsTransport(credentials.material);
      this.loginNeeded = true;
      this.onEvent({ type: "credentials_loaded", fingerprint: credentials.fingerprint });
    }
    const held = this.held;
    const now = Date.now();
    if (held && !this.loginNeeded) {
      if (now < held.renewAt) return held;
      if (now < held.expiresAt) {
        const renewed = await this.renew(held);
        if (renewed) return this.keep(renewed);
      }
    }
    const sent = Date.now();
    const answer = await callRoute(this.transport, this.resolved.base, "login", this.resolved.body, this.resolved.timeoutMs);
    this.loginNeeded = false;
    return this.keep(this.hold(answer, "login", credentials, sent));
  }

  /** Drops the connections and TLS sessions; the keeper can still step again. */
  close(): void {
    this.transport?.close();
    this.transport = undefined;
  }

  /** The renewed token, or undefined when a login is the way on (refused, or no longer extended). */
  private async renew(held: HeldToken): Promise<HeldToken | undefined> {
    let answer: LoginAnswer;
    const sent = Date.now();
    try {
      answer = await callRoute(this.transport!, this.resolved.base, "renew", { accessToken: held.answer.accessToken }, this.resolved.timeoutMs);
    } catch (err) {
      // Refused (max_ttl_reached, revoked, uses exhausted, configuration gone, a server without the route): log in.
      if (err instanceof CertauthStatusError && !err.transient) {
        this.onEvent({ type: "renew_refused", status: err.status, reason: err.reason, message: err.serverMessage });
        return undefined;
      }
      throw err;
    }
    const renewed = this.hold(answer, "renew", { fingerprint: held.fingerprint }, sent);
    if (renewed.expiresAt < held.expiresAt + MIN_EXTENSION_MS) {
      this.onEvent({ type: "renew_not_extended", expiresIn: answer.expiresIn });
      return undefined;
    }
    return renewed;
  }

  /**
   * Counted from when the request was sent, and a second short: the server counts whole seconds from a second
   * that may have begun up to one before, so the token may expire that much sooner than expiresIn says.
   */
  private hold(answer: LoginAnswer, via: HeldToken["via"], credentials: Pick<LoadedCredentials, "fingerprint">, sent: number): HeldToken {
    const life = Math.max(answer.expiresIn * 1000 - 1000, answer.expiresIn * 500);
    return {
      answer,
      via,
      obtainedAt: sent,
      expiresAt: life > 0 ? sent + life : Infinity,
      renewAt: life > 0 ? renewalTime(sent, life) : Infinity,
      fingerprint: credentials.fingerprint,
    };
  }

  private keep(held: HeldToken): HeldToken {
    this.current = held;
    this.onEvent({ type: "token", via: held.via, expiresIn: held.answer.expiresIn, fingerprint: held.fingerprint });
    return held;
  }
}
