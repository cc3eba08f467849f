import type { Context } from "hono";
import type { AppEnv } from "../http/env.ts";
import type { Metrics } from "./registry.ts";

const LOGIN_PATH = "/api/v1/auth/tls-cert-auth/login";
const RENEW_PATH = "/api/v1/auth/token/renew";
const REVOKE_PATH = "/api/v1/auth/token/revoke";

/** What a failed login without a certificate reason code failed on, named after its status. */
const FAILURE_CLASS: Record<number, string> = {
  400: "bad_request",
  404: "not_found",
  413: "payload_too_large",
  422: "validation_failure",
  429: "rate_limited",
  500: "internal_error",
  503: "database_unavailable",
};

/** A 503 that says when to retry is the service at capacity (errors.ts `busy`); one that does not, the database. */
function failureClass(c: Context<AppEnv>, status: number): string {
  if (status === 503 && c.res.headers.has("retry-after")) return "busy";
  return FAILURE_CLASS[status] ?? `http_${status}`;
}

/**
 * Counts one answered request from its outcome: the status and the reason code the error handler put in the
 * context (the same code as the `x-certauth-reason` header). `started` is its performance.now() at arrival, so
 * login timing covers the whole request, body included. Called by the app's one request middleware.
 */
export function observe(metrics: Metrics, c: Context<AppEnv>, started: number): void {
  const status = c.res.status;
  const reason = c.get("reasonCode");
  metrics.responses.inc(statusLabel(status));
  const path = c.req.path;
  if (path === LOGIN_PATH && c.req.method === "POST") {
    metrics.loginDuration.observe((performance.now() - started) / 1000);
    if (status === 200) {
      metrics.logins.inc("success", "ok");
      metrics.tokensIssued++;
    } else {
      metrics.logins.inc("failure", reason ?? failureClass(c, status));
    }
    return;
  }
  if (reason) metrics.tokenRefusals.inc(reason);
  else if (status === 200 && path === RENEW_PATH) metrics.tokensRenewed++;
  else if (status === 200 && path === REVOKE_PATH) metrics.tokensRevoked++;
}

const STATUS_LABELS: string[] = [];
const statusLabel = (status: number) => (STATUS_LABELS[status] ??= String(status));
