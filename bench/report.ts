/** The benchmark's JSON shape, its Markdown table and its one SVG chart (login as a share of the ceiling). */

export interface Measurement {
  label: string;
  mode: "keep-alive" | "handshake";
  requests: number;
  rps: number;
  statuses: Record<string, number>;
  socketErrors: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  serverCpuUsPerReq: number;
  /** Server CPU over the load, in cores (1 = one core busy all the time). */
  serverCpuCores: number;
  /** The server's minor page faults per request (absent in reports before 2026-12-01's second run). */
  serverFaultsPerReq?: number;
  clientCpuUsPerReq: number;
  clientWorkers: number;
  rssMiB: number;
  case?: string;
  runtime?: string;
  db?: string;
  identities?: number;
  crl?: boolean;
  chain?: boolean;
  /** ocsp-cached or crl-url: live revocation on the measured login. */
  revocation?: string;
  ceilingPerRequest?: Measurement;
  ceilingPerConnection?: Measurement | null;
  /** login / ceiling of each round (ceiling and login take turns), lowest to highest spread of the pooled ratio. */
  roundRatios?: number[];
}

export interface RssCheck {
  runtime: string;
  db: string;
  /** rssMiB right as a step's load ends; restMiB 2 s later, once the service is idle. */
  samples: { logins: number; rssMiB: number; restMiB?: number }[];
  errors: number;
  growthPct: number;
  restGrowthPct?: number;
}

export interface Report {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; bun: string; node: string; loadAverageBefore: number[]; loadAverageAfter: number[]; pageFaultMicros?: number };
  settings: { connections: number; durationSeconds: number; warmupSeconds: number; rounds?: number; full: boolean };
  measurements: Measurement[];
  rss: RssCheck[];
}

const TARGET = { "keep-alive": 0.35, handshake: 0.85 } as const;

export function ratio(m: Measurement): number {
  return m.ceilingPerRequest ? m.rps / m.ceilingPerRequest.rps : 0;
}

/** The 1-identity, no-CRL, no live revocation twin of a case (same runtime, database, mode, chain): the plain login. */
function plainTwin(report: Report, m: Measurement): Measurement | undefined {
  return report.measurements.find(
    (b) => b.runtime === m.runtime && b.db === m.db && b.mode === m.mode && b.chain === m.chain && b.identities === 1 && !b.crl && !b.revocation,
  );
}

/** p50 of a case divided by the p50 of its plain-login twin. */
export function scaleRatio(report: Report, m: Measurement): number | null {
  if (m.identities === 1 && !m.crl) return null;
  const base = plainTwin(report, m);
  return base ? m.p50Ms / base.p50Ms : null;
}

/** A live-revocation case's ratio to the ceiling divided by its plain-login twin's (target ≥ 0.9). */
export function revocationRatio(report: Report, m: Measurement): number | null {
  const base = m.revocation ? plainTwin(report, m) : undefined;
  return base ? ratio(m) / ratio(base) : null;
}

const errorsOf = (m: Measurement) => {
  const bad = Object.entries(m.statuses).filter(([s]) => s !== "200");
  const n = bad.reduce((sum, [, v]) => sum + v, 0) + m.socketErrors;
  return n === 0 ? "0" : `${n} (${bad.map(([s, v]) => `${s}×${v}`).join(" ")}${m.socketErrors ? ` sock×${m.socketErrors}` : ""})`;
};

const faultsOf = (m: Measurement) => (m.serverFaultsPerReq === undefined ? "–" : m.serverFaultsPerReq.toFixed(2));

const rangeOf = (m: Measurement) =>
  m.roundRatios && m.roundRatios.length > 1 ? ` ${Math.min(...m.roundRatios).toFixed(2)}–${Math.max(...m.roundRatios).toFixed(2)}` : "";

export function renderMarkdown(report: Report): string {
  const { machine: mc, settings: st } = report;
  const lines = [
    `### certauth login vs bare mTLS server — ${report.date.slice(0, 10)}`,
    "",
    `${mc.cpus} × ${mc.cpuModel}, ${mc.memoryGiB} GiB; Bun ${mc.bun}, Node ${mc.node}; load average ${mc.loadAverageBefore.join(" ")} before, ${mc.loadAverageAfter.join(" ")} after (shared machine)${mc.pageFaultMicros === undefined ? "" : `; a page fault costs ${mc.pageFaultMicros.toFixed(2)} µs here`}.`,
    `${st.connections} connections; ${st.rounds ?? 1} round(s) of ${st.durationSeconds} s per server after ${st.warmupSeconds} s warm-up each; ECDSA P-256 certificates, TLS 1.3.`,
    `Ceiling = the same runtime's node:tls → node:http server answering a fixed body, peer chain read per request (per connection in parentheses). Ceiling and login take turns round by round; figures pool the rounds, and the range is the lowest and highest round's ratio.`,
    "",
    "| case | mode | login req/s | ceiling req/s | login / ceiling | p50 / p90 / p99 ms | p99/p50 | server µs/req (ceiling) | server page faults/req (ceiling) | client µs/req | errors |",
    "|---|---|---:|---:|---:|---|---:|---|---|---:|---|",
  ];
  for (const m of report.measurements) {
    const c = m.ceilingPerRequest!;
    const cc = m.ceilingPerConnection;
    const r = ratio(m);
    const scale = scaleRatio(report, m);
    const live = revocationRatio(report, m);
    lines.push(
      `| ${m.case}${scale !== null ? ` (p50 ${scale.toFixed(2)}× of 1-id, no-CRL)` : ""}${live !== null ? ` (${live.toFixed(2)}× the plain login's ratio)` : ""} | ${m.mode} | ${m.rps.toFixed(0)} | ${c.rps.toFixed(0)}${cc ? ` (${cc.rps.toFixed(0)})` : ""} | ` +
        `**${r.toFixed(2)}×**${rangeOf(m)}${cc ? ` (${(m.rps / cc.rps).toFixed(2)}×)` : ""} ${r >= TARGET[m.mode] ? "✓" : "✗"} | ` +
        `${m.p50Ms.toFixed(2)} / ${m.p90Ms.toFixed(2)} / ${m.p99Ms.toFixed(2)} | ${(m.p99Ms / m.p50Ms).toFixed(1)} | ` +
        `${m.serverCpuUsPerReq.toFixed(0)} (${c.serverCpuUsPerReq.toFixed(0)}) | ${faultsOf(m)} (${faultsOf(c)}) | ${m.clientCpuUsPerReq.toFixed(0)} | ${errorsOf(m)} |`,
    );
  }
  if (report.rss.length) {
    lines.push(
      "",
      "| RSS check (as the load ends / 2 s later, idle) | after 0 | after 50k logins | after 100k logins | growth 50k→100k | errors |",
      "|---|---:|---:|---:|---:|---:|",
    );
    const both = (s?: { rssMiB: number; restMiB?: number }) =>
      s ? `${s.rssMiB.toFixed(0)}${s.restMiB === undefined ? "" : ` / ${s.restMiB.toFixed(0)}`} MiB` : "";
    for (const r of report.rss) {
      const [a, b, c] = r.samples;
      const growth = `${r.growthPct.toFixed(1)}${r.restGrowthPct === undefined ? "" : ` / ${r.restGrowthPct.toFixed(1)}`} %`;
      lines.push(`| ${r.runtime}/${r.db} | ${both(a)} | ${both(b)} | ${both(c)} | ${growth} | ${r.errors} |`);
    }
  }
  lines.push(
    "",
    `Targets: keep-alive ≥ ${TARGET["keep-alive"]}×, handshake ≥ ${TARGET.handshake}× of the per-request ceiling; p99 ≤ 3× p50; 100k identities + 100k-serial CRL p50 ≤ 1.2× of 1 identity, no CRL; ocsp-cached and crl-url ≥ 0.9× the plain login's ratio; RSS ≤ 200 MiB after 100k logins, < 10 % growth from 50k to 100k.`,
    "",
  );
  return lines.join("\n");
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** One horizontal bar per login run: its throughput as a share of the same run's ceiling, with the target marked. */
export function renderSvg(report: Report): string {
  const rows = report.measurements;
  const left = 330;
  const barWidth = 420;
  const rowHeight = 26;
  const top = 48;
  const height = top + rows.length * rowHeight + 40;
  const width = left + barWidth + 150;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="20" font-size="15" font-weight="600">certauth login throughput as a share of a bare mTLS server (same run)</text>`,
    `<text x="12" y="38" fill="#555">${esc(`${report.date.slice(0, 10)} · ${report.machine.cpus} × ${report.machine.cpuModel} · Bun ${report.machine.bun}, Node ${report.machine.node} · grey = ceiling (1.0), ticks = targets`)}</text>`,
  ];
  rows.forEach((m, i) => {
    const y = top + i * rowHeight;
    const r = Math.min(ratio(m), 1.2);
    const target = TARGET[m.mode];
    const color = ratio(m) >= target ? "#2b7a3d" : "#c0392b";
    parts.push(
      `<text x="${left - 8}" y="${y + 16}" text-anchor="end">${esc(`${m.case} · ${m.mode}`)}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${barWidth}" height="16" fill="#e3e3e3"/>`,
      `<rect x="${left}" y="${y + 4}" width="${(r * barWidth).toFixed(1)}" height="16" fill="${color}"/>`,
      `<line x1="${left + target * barWidth}" x2="${left + target * barWidth}" y1="${y + 1}" y2="${y + 23}" stroke="#000" stroke-width="2"/>`,
      `<text x="${left + barWidth + 8}" y="${y + 16}">${esc(`${ratio(m).toFixed(2)}× · ${m.rps.toFixed(0)} / ${m.ceilingPerRequest!.rps.toFixed(0)} req/s`)}</text>`,
    );
  });
  const axisY = top + rows.length * rowHeight + 14;
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<text x="${left + t * barWidth}" y="${axisY}" text-anchor="middle" fill="#555">${t}</text>`);
  }
  parts.push("</svg>", "");
  return parts.join("\n");
}
