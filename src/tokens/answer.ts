import { z } from "@hono/zod-openapi";

/** What a login and a renewal answer (PRODUCT §2.4): the same four fields. */
export const tokenAnswer = z.object({
  accessToken: z.string(),
  expiresIn: z.number(),
  accessTokenMaxTTL: z.number(),
  tokenType: z.enum(["Bearer"]),
});

export type TokenAnswer = z.infer<typeof tokenAnswer>;
