/**
 * The service's counters, kept in memory and written out in the Prometheus text format (0.0.4) on scrape.
 * Recording costs a map lookup and an addition: no allocation on the hot path once a label set has been seen.
 */

/** Seconds; a login is a signature check, one query and one insert, so most land well under 50 ms. */
export const LOGIN_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Seconds; OCSP answers are typically made hourly to daily, and a week is the longest validity seen in practice. */
export const OCSP_ANSWER_AGE_BUCKETS = [60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86_400, 3 * 86_400, 7 * 86_400] as const;

export class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: readonly number[]) {
    this.counts = new Array<number>(buckets.length).fill(0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

/** A counter over one or two label values, stored as nested maps so that an increment builds no key string. */
export class LabeledCounter {
  readonly values = new Map<string, Map<string, number>>();
  inc(first: string, second = ""): void {
    let inner = this.values.get(first);
    if (!inner) this.values.set(first, (inner = new Map()));
    inner.set(second, (inner.get(second) ?? 0) + 1);
  }
  get(first: string, second = ""): number {
    return this.values.get(first)?.get(second) ?? 0;
  }
}

export class Metrics {
  /** result (success | failure) × reason (reason code, or the failure class when there is none; "ok" on success). */
  readonly logins = new LabeledCounter();
  readonly loginDuration = new Histogram(LOGIN_DURATION_BUCKETS);
  tokensIssued = 0;
  tokensRenewed = 0;
  tokensRevoked = 0;
  /** Refused uses of an access token, by reason code (token_revoked, uses_exhausted, ip_not_trusted, …). */
  readonly tokenRefusals = new LabeledCounter();
  /** CRL and OCSP fetches by kind (crl, ocsp) × result (ok, not_modified, failed). */
  readonly revocationFetches = new LabeledCounter();
  /** CRLs decoded (not found decoded by their content), by thread: event_loop (small ones) or worker. */
  readonly crlDecodes = new LabeledCounter();
  /** Age (now − thisUpdate) of each OCSP answer a login used, from the cache or the network. */
  readonly ocspAnswerAge = new Histogram(OCSP_ANSWER_AGE_BUCKETS);
  /** HTTP responses by status code. */
  readonly responses = new LabeledCounter();
}

export interface Sample {
  name: string;
  help: string;
  type: "counter" | "gauge";
  values: { labels?: Record<string, string>; value: number }[];
}

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

function labelText(labels: Record<string, string> | undefined): string {
  if (!labels) return "";
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function header(lines: string[], name: string, help: string, type: string): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

function counterOver(counter: LabeledCounter, first: string, second?: string) {
  const values: Sample["values"] = [];
  for (const [a, inner] of counter.values) {
    for (const [b, value] of inner) values.push({ labels: second ? { [first]: a, [second]: b } : { [first]: a }, value });
  }
  return values;
}

/** The exposition text: the in-memory counters, then the gauges the caller read at scrape time. */
export function exposition(metrics: Metrics, gauges: Sample[]): string {
  const lines: string[] = [];
  const samples: Sample[] = [
    {
      name: "certauth_logins_total",
      help: "TLS certificate logins by result (success, failure) and reason code.",
      type: "counter",
      values: counterOver(metrics.logins, "result", "reason"),
    },
    { name: "certauth_tokens_issued_total", help: "Access tokens issued by a login.", type: "counter", values: [{ value: metrics.tokensIssued }] },
    { name: "certauth_tokens_renewed_total", help: "Access tokens renewed.", type: "counter", values: [{ value: metrics.tokensRenewed }] },
    { name: "certauth_tokens_revoked_total", help: "Access tokens revoked through the revoke route.", type: "counter", values: [{ value: metrics.tokensRevoked }] },
    {
      name: "certauth_token_uses_refused_total",
      help: "Uses of an access token refused, by reason code.",
      type: "counter",
      values: counterOver(metrics.tokenRefusals, "reason"),
    },
    {
      name: "certauth_revocation_fetches_total",
      help: "Revocation fetches by kind (crl, ocsp) and result (ok, not_modified, failed).",
      type: "counter",
      values: counterOver(metrics.revocationFetches, "kind", "result"),
    },
    {
      name: "certauth_crl_decodes_total",
      help: "CRLs decoded, by thread (event_loop: small ones; worker); the same bytes again are not decoded while cached.",
      type: "counter",
      values: counterOver(metrics.crlDecodes, "thread"),
    },
    { name: "certauth_http_responses_total", help: "HTTP responses by status code.", type: "counter", values: counterOver(metrics.responses, "status") },
    ...gauges,
  ];
  for (const sample of samples) {
    header(lines, sample.name, sample.help, sample.type);
    for (const { labels, value } of sample.values) lines.push(`${sample.name}${labelText(labels)} ${value}`);
  }
  histogram(lines, "certauth_login_duration_seconds", "Time to answer a login request, in seconds.", metrics.loginDuration);
  histogram(lines, "certauth_ocsp_answer_age_seconds", "Age (now minus thisUpdate) of the OCSP answers logins used, cached or fresh, in seconds.", metrics.ocspAnswerAge);
  return `${lines.join("\n")}\n`;
}

function histogram(lines: string[], name: string, help: string, h: Histogram): void {
  header(lines, name, help, "histogram");
  let cumulative = 0;
  for (let i = 0; i < h.buckets.length; i++) {
    cumulative += h.counts[i]!;
    lines.push(`${name}_bucket{le="${h.buckets[i]}"} ${cumulative}`);
  }
  lines.push(`${name}_bucket{le="+Inf"} ${h.count}`, `${name}_sum ${h.sum}`, `${name}_count ${h.count}`);
}
