/**
 * The two routes the client calls, with the wire shapes of the seed OpenAPI (login) and PRODUCT §2.4 (renew):
 * nothing certauth-specific beyond the optional `x-certauth-reason` header, so Infisical's server answers too.
 */
import { z } from "zod";
import { CertauthConnectionError, CertauthProtocolError, CertauthStatusError, type Route } from "./errors.ts";
import { TransportError, type HttpAnswer, type Transport } from "./transport.ts";

const PATHS: Record<Route, string> = {
  login: "/api/v1/auth/tls-cert-auth/login",
  renew: "/api/v1/auth/token/renew",
};

/** What login and renew answer. */
export interface LoginAnswer {
  accessToken: string;
  /** Seconds this token has left; 0 from a server whose token does not expire. */
  expiresIn: number;
  accessTokenMaxTTL: number;
  tokenType: string;
}

const answerSchema = z.object({
  // RFC 6750 b64token: what an Authorization header, a sink file and an env line can hold as they are.
  accessToken: z.string().min(1).max(16_384).regex(/^[A-Za-z0-9\-._~+/]+=*$/, "not a bearer token"),
  expiresIn: z.number().finite().nonnegative(),
  accessTokenMaxTTL: z.number().finite().nonnegative(),
  tokenType: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "not a token type"),
});

const errorSchema = z.object({ message: z.string().optional(), error: z.string().optional(), reqId: z.string().optional() }).passthrough();

const header = (answer: HttpAnswer, name: string): string | undefined => {
  const value = answer.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** A server's text as one line: an error message (and the CLI's one line of stderr) cannot be cut short by it. */
const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();

function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A 2xx with the route's shape, or the typed error for what came back instead. */
function answerOf(route: Route, answer: HttpAnswer): LoginAnswer {
  if (answer.status >= 200 && answer.status < 300) {
    const parsed = answerSchema.safeParse(json(answer.text));
    if (!parsed.success) throw new CertauthProtocolError(route, `the ${answer.status} answer is not a login answer (${parsed.error.issues[0]?.path.join(".") || "body"}: ${parsed.error.issues[0]?.message})`);
    return parsed.data;
  }
  const body = errorSchema.safeParse(json(answer.text));
  const message = oneLine((body.success ? body.data.message : undefined) ?? answer.text.slice(0, 200)) || `HTTP ${answer.status}`;
  const reason = header(answer, "x-certauth-reason");
  const retryAfter = Number(header(answer, "retry-after"));
  throw new CertauthStatusError(
    route,
    answer.status,
    oneLine((body.success ? body.data.error : undefined) ?? "") || `HTTP ${answer.status}`,
    message,
    reason && /^[a-z0-9_]{1,64}$/.test(reason) ? reason : undefined,
    (body.success ? body.data.reqId : undefined) ?? header(answer, "x-request-id"),
    Number.isInteger(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
  );
}

/** POSTs `body` to `route` under `base` (its path kept as a prefix). */
export async function callRoute(transport: Transport, base: URL, route: Route, body: unknown, timeoutMs: number): Promise<LoginAnswer> {
  const url = new URL(base);
  url.pathname = `${base.pathname.replace(/\/+$/, "")}${PATHS[route]}`;
  url.search = "";
  url.hash = "";
  let answer: HttpAnswer;
  try {
    answer = await transport.post(url, body, timeoutMs);
  } catch (err) {
    if (err instanceof TransportError && err.oversized) throw new CertauthProtocolError(route, err.message);
    throw new CertauthConnectionError(route, err instanceof Error ? err.message : String(err));
  }
  return answerOf(route, answer);
}
