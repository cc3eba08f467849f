import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  AppError,
  badRequest,
  httpError,
  internalError,
  payloadTooLarge,
  unavailable,
  unsupportedMediaType,
  validationFailure,
} from "../errors.ts";
import { isUnavailableError, isUnstorableTextError } from "../db/client.ts";
import type { Logger } from "../log.ts";
import type { AppEnv } from "./env.ts";
import { MAX_BODY_TEXT } from "./limits.ts";

/** The only place an error becomes a response: the seed's body, `details` on 400/403 only. */
export function errorResponse(c: Context<AppEnv>, err: AppError): Response {
  const body: Record<string, unknown> = {
    reqId: c.get("reqId"),
    statusCode: err.statusCode,
    message: err.message,
    error: err.error,
  };
  if ((err.statusCode === 400 || err.statusCode === 403) && err.options.details !== undefined) {
    body.details = err.options.details;
  }
  if (err.reasonCode) {
    c.header("x-certauth-reason", err.reasonCode);
    c.set("reasonCode", err.reasonCode);
  }
  for (const [name, value] of Object.entries(err.options.headers ?? {})) c.header(name, value);
  return c.json(body, err.statusCode as ContentfulStatusCode);
}

export function toAppError(err: unknown, log: Logger, reqId: string): AppError {
  if (err instanceof AppError) return err;
  if (isUnavailableError(err)) {
    log.warn("database unavailable", { reqId, cause: describe(err) });
    return unavailable();
  }
  if (isUnstorableTextError(err)) {
    return validationFailure("A text field holds a character that cannot be stored (such as NUL).");
  }
  if (err instanceof HTTPException) {
    if (err.status === 413) return payloadTooLarge(`The request body is larger than ${MAX_BODY_TEXT}.`);
    if (err.status === 400) return badRequest(err.message || "Bad request");
    if (err.status === 415) return unsupportedMediaType("Send the request body as application/json.");
    return httpError(err.status, err.message || "Request failed");
  }
  log.error("unhandled error", { reqId, error: describe(err), stack: err instanceof Error ? err.stack : undefined });
  return internalError("Something went wrong on our side; the request id identifies it in the logs.");
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
