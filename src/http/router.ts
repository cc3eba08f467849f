import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { validationFailure, type AppError } from "../errors.ts";
import type { AppEnv } from "./env.ts";
import { MAX_BODY_TEXT } from "./limits.ts";

/** Every feature's routes are an OpenAPIHono whose schema failures become 422 ValidationFailure. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationFailureOf(result.error as ZodError);
    },
  });
}

/** A schema failure as a 422: the first five issues, each with the field it is about. */
export function validationFailureOf(error: ZodError): AppError {
  const parts = error.issues.slice(0, 5).map((issue) => {
    const where = issue.path.length ? issue.path.join(".") : "body";
    if (issue.code === "unrecognized_keys") return `${where}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    return `${where}: ${issue.message}`;
  });
  return validationFailure(parts.join("; "));
}

/**
 * The seed's error body for one status: `details` only on 400 and 403, no other field. 422 carries a message
 * too, although the seed leaves it optional there.
 */
const errorSchemas = new Map<number, z.ZodType>();
function errorSchemaFor(status: number): z.ZodType {
  let schema = errorSchemas.get(status);
  if (!schema) {
    const base = { reqId: z.string(), statusCode: z.literal(status), message: z.string(), error: z.string() };
    const withDetails = status === 400 || status === 403;
    schema = (withDetails ? z.strictObject({ ...base, details: z.unknown().optional() }) : z.strictObject(base)).openapi(`Error${status}`);
    errorSchemas.set(status, schema);
  }
  return schema;
}

/** An error response as documented in the OpenAPI: the seed's body for that status. */
export const errorContent = (status: number, description: string) => ({
  description,
  content: { "application/json": { schema: errorSchemaFor(status) } },
});

/** Error responses every documented route may answer. */
export const errorResponses = {
  400: errorContent(400, "Bad request"),
  401: errorContent(401, "Missing or invalid credentials"),
  403: errorContent(403, "Not allowed"),
  404: errorContent(404, "Not found"),
  413: errorContent(413, `Request body over ${MAX_BODY_TEXT}`),
  422: errorContent(422, "Validation failure"),
  500: errorContent(500, "Internal error; the reqId identifies it in the logs"),
  503: errorContent(503, "Database unavailable"),
} as const;

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

export const jsonOk = <T extends z.ZodType>(schema: T, description = "OK") => ({
  200: { description, content: { "application/json": { schema } } },
});

export const bearerSecurity = [{ bearerAuth: [] }];
