/**
 * The one error type of the service. Every refusal is an AppError; `toBody` turns it into the seed's
 * error body in exactly one place (see http/errors.ts).
 */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
    readonly options: { reasonCode?: string; details?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }
  get reasonCode(): string | undefined {
    return this.options.reasonCode;
  }
}

export const badRequest = (message: string, details?: unknown) => new AppError(400, "BadRequest", message, { details });
export const unauthorized = (message: string, reasonCode?: string) =>
  new AppError(401, "UnauthorizedError", message, { reasonCode });
export const forbidden = (message: string, details?: unknown) =>
  new AppError(403, "ForbiddenError", message, { details });
export const notFound = (message: string) => new AppError(404, "NotFound", message);
export const unavailable = (message = "The database is unavailable; try again shortly.") =>
  new AppError(503, "ServiceUnavailable", message);
