import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { AppError } from "../errors.ts";
import type { AppEnv } from "./env.ts";

/** Every feature's routes are an OpenAPIHono whose schema failures become 422 ValidationFailure. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationFailure(result.error as ZodError);
    },
  });
}

export function validationFailure(error: ZodError): AppError {
  const parts = error.issues.slice(0, 5).map((issue) => {
    const where = issue.path.length ? issue.path.join(".") : "body";
    if (issue.code === "unrecognized_keys") return `${where}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    return `${where}: ${issue.message}`;
  });
  return new AppError(422, "ValidationFailure", parts.join("; "));
}

export const errorSchema = z
  .object({
    reqId: z.string(),
    statusCode: z.number(),
    message: z.string(),
    error: z.string(),
    details: z.unknown().optional(),
  })
  .openapi("Error");

const errorContent = (description: string) => ({
  description,
  content: { "application/json": { schema: errorSchema } },
});

/** Error responses every documented route may answer. */
export const errorResponses = {
  400: errorContent("Bad request"),
  401: errorContent("Missing or invalid credentials"),
  403: errorContent("Not allowed"),
  404: errorContent("Not found"),
  422: errorContent("Validation failure"),
  503: errorContent("Database unavailable"),
} as const;

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

export const jsonOk = <T extends z.ZodType>(schema: T, description = "OK") => ({
  200: { description, content: { "application/json": { schema } } },
});

export const bearerSecurity = [{ bearerAuth: [] }];
