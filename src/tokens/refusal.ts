import { AppError } from "../errors.ts";

/**
 * Why a token was refused. Stable strings: they go in the `x-certauth-reason` header and the log line, and
 * refused uses will be counted by them.
 */
export type TokenRefusalReason =
  | "invalid_token"
  | "token_expired"
  | "token_revoked"
  | "identity_not_found"
  | "ip_not_trusted"
  | "uses_exhausted"
  | "certificate_mismatch"
  | "max_ttl_reached";

/** 401 UnauthorizedError for every refusal, except a client IP outside the trusted IPs: 403 ForbiddenError. */
export function refuse(reason: TokenRefusalReason, message: string): AppError {
  if (reason === "ip_not_trusted") return new AppError(403, "ForbiddenError", message, { reasonCode: reason });
  return new AppError(401, "UnauthorizedError", message, { reasonCode: reason });
}
