import { forbidden, unauthorized, type AppError } from "../errors.ts";
import type { TokenReason } from "../reasons.ts";

/** 401 UnauthorizedError for every refusal, except a client IP outside the trusted IPs: 403 ForbiddenError. */
export function refuse(reason: TokenReason, message: string): AppError {
  return reason === "ip_not_trusted" ? forbidden(message, { reason }) : unauthorized(message, { reason });
}
