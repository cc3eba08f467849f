import type { ReasonCode } from "./reasons.ts";

/** What an error carries besides its status and message; each factory below takes the parts its status may. */
export interface ErrorOptions {
  /** The API's reason code: the `x-certauth-reason` header and the audit record's `reasonCode`. */
  reason?: ReasonCode;
  /** The seed's `details`, answered on 400 and 403 only. */
  details?: unknown;
  headers?: Record<string, string>;
}

/**
 * The one error type of the service, made only by the factories below (one per status); http/errors.ts turns
 * it into the seed's error body in exactly one place.
 */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
    readonly options: ErrorOptions = {},
  ) {
    super(message);
  }
  get reasonCode(): ReasonCode | undefined {
    return this.options.reason;
  }
}

type With<K extends keyof ErrorOptions> = Pick<ErrorOptions, K>;

export const badRequest = (message: string, options: With<"details"> = {}) => new AppError(400, "BadRequest", message, options);
export const unauthorized = (message: string, options: With<"reason"> = {}) =>
  new AppError(401, "UnauthorizedError", message, options);
export const forbidden = (message: string, options: With<"reason" | "details"> = {}) =>
  new AppError(403, "ForbiddenError", message, options);
export const notFound = (message: string) => new AppError(404, "NotFound", message);
export const payloadTooLarge = (message: string) => new AppError(413, "PayloadTooLarge", message);
export const unsupportedMediaType = (message: string) => new AppError(415, "UnsupportedMediaType", message);
export const validationFailure = (message: string) => new AppError(422, "ValidationFailure", message);
export const rateLimited = (message: string, options: With<"headers"> = {}) =>
  new AppError(429, "RateLimitExceeded", message, options);
export const internalError = (message: string) => new AppError(500, "InternalServerError", message);
export const unavailable = (message = "The database is unavailable; try again shortly.", options: With<"headers"> = {}) =>
  new AppError(503, "ServiceUnavailable", message, options);
/** Seconds a client is told to wait (Retry-After) when a CRL could not be decoded for want of capacity. */
const BUSY_RETRY_AFTER_SECONDS = 5;
/** A 503 for work the service could not take on now (its CRL decoder is at capacity), with a Retry-After. */
export const busy = (message: string) => unavailable(message, { headers: { "retry-after": String(BUSY_RETRY_AFTER_SECONDS) } });
/** Any other status a library raised (an HTTPException), kept as it came. */
export const httpError = (statusCode: number, message: string) => new AppError(statusCode, "HttpError", message);
