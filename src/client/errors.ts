import type { ReasonCode } from "../reasons.ts";

export type { ReasonCode };

/** Which route a request went to. */
export type Route = "login" | "renew";

/** A stable code per error class, as jose's errors carry. */
export type CertauthErrorCode = "ERR_CERTAUTH_STATUS" | "ERR_CERTAUTH_CONNECTION" | "ERR_CERTAUTH_PROTOCOL" | "ERR_CERTAUTH_CREDENTIALS";

export abstract class CertauthError extends Error {
  abstract readonly code: CertauthErrorCode;
}

/** The server answered an error status: its body's `error` and `message`, and the `x-certauth-reason` header. */
export class CertauthStatusError extends CertauthError {
  readonly code = "ERR_CERTAUTH_STATUS";
  constructor(
    readonly route: Route,
    readonly status: number,
    /** The body's `error`, e.g. `UnauthorizedError`. */
    readonly error: string,
    /** The body's human `message`. */
    readonly serverMessage: string,
    /** certauth's reason code; another server's (Infisical's) answers carry none, or codes of its own. */
    readonly reason?: ReasonCode | (string & {}),
    readonly requestId?: string,
    /** The `Retry-After` of a 429 or 503, in seconds. */
    readonly retryAfterSeconds?: number,
  ) {
    super(`${route} refused: ${status} ${error}${reason ? ` (${reason})` : ""}: ${serverMessage}`);
  }

  /** Worth the same request again later (the server is overloaded or its database is down), not a verdict. */
  get transient(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/** No HTTP answer: the server is unreachable, the TLS handshake failed, or it did not answer in time. */
export class CertauthConnectionError extends CertauthError {
  readonly code = "ERR_CERTAUTH_CONNECTION";
  constructor(
    readonly route: Route,
    message: string,
  ) {
    super(`${route}: ${message}`);
  }
}

/** An answer that is not the route's: too large, not JSON, or without a usable access token. */
export class CertauthProtocolError extends CertauthError {
  readonly code = "ERR_CERTAUTH_PROTOCOL";
  constructor(
    readonly route: Route,
    message: string,
  ) {
    super(`${route}: ${message}`);
  }
}

/** The certificate or key cannot be read or used: missing file, not PEM, or a key that is not the certificate's. */
export class CertauthCredentialsError extends CertauthError {
  readonly code = "ERR_CERTAUTH_CREDENTIALS";
}
