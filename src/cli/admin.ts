import type { Principal } from "../http/env.ts";
import type { z } from "zod";
import { validationFailureOf } from "../http/router.ts";

/** The CLI acts with the database's own authority, like the admin token. */
export const OPERATOR: Principal = { kind: "admin" };

/** Validates with the admin API's own schema; a failure reads like the API's 422 message. */
export function validate<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw validationFailureOf(parsed.error);
  return parsed.data;
}
