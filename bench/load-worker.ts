/**
 * One load-generator process: HTTP/1.1 over node:tls with a client certificate, written and parsed by
 * hand so the generator spends as little CPU per request as it can.
 *
 *   keep-alive: `connections` persistent connections, each sending its next request when the last answer arrives;
 *   handshake:  `connections` loops, each request a fresh connection and a full mTLS handshake (no session
 *               reuse: no session is ever handed back to tls.connect, and tickets are ignored).
 *
 * Reads its job as JSON from argv[2]; prints one JSON result line. Bounded by `durationMs` and `maxRequests`.
 */
import { connect, type TLSSocket } from "node:tls";
import { readFileSync } from "node:fs";

export interface WorkerJob {
  host: string;
  port: number;
  path: string;
  /** Request bodies, cycled through (one identity per body). */
  bodies: string[];
  certFile: string;
  keyFile: string;
  mode: "keep-alive" | "handshake";
  connections: number;
  warmupMs: number;
  durationMs: number;
  maxRequests: number;
}

export interface WorkerResult {
  requests: number;
  statuses: Record<string, number>;
  socketErrors: number;
  elapsedMs: number;
  /** Latencies in microseconds (measurement window only). */
  latenciesUs: number[];
  cpuMs: number;
}

const job = JSON.parse(process.argv[2]!) as WorkerJob;
const cert = readFileSync(job.certFile);
const key = readFileSync(job.keyFile);
const requests = job.bodies.map((body) =>
  Buffer.from(
    `POST ${job.path} HTTP/1.1\r\nhost: ${job.host}:${job.port}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n${job.mode === "handshake" ? "connection: close\r\n" : ""}\r\n${body}`,
  ),
);

const MAX_SAMPLES = 2_000_000;
const latencies = new Float64Array(MAX_SAMPLES);
let samples = 0;
let counted = 0;
let socketErrors = 0;
const statuses: Record<string, number> = {};
let measuring = false;
let stopping = false;
let next = 0;

function record(status: number, started: number) {
  if (!measuring) return;
  counted++;
  statuses[status] = (statuses[status] ?? 0) + 1;
  if (samples < MAX_SAMPLES) latencies[samples++] = (performance.now() - started) * 1000;
  if (counted >= job.maxRequests) stopping = true;
}

/** Parses answers off a byte stream; calls `done(status)` once per complete response. */
function responseReader(done: (status: number) => void) {
  let buffer: Buffer | null = null;
  return (chunk: Buffer) => {
    buffer = buffer ? Buffer.concat([buffer, chunk]) : chunk;
    for (;;) {
      const end: number = buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buffer.toString("latin1", 0, end);
      const status = Number(head.slice(9, 12));
      const match = /\r\ncontent-length: *(\d+)/i.exec(head);
      const length = match ? Number(match[1]) : 0;
      const total: number = end + 4 + length;
      if (buffer.length < total) return;
      buffer = buffer.length === total ? null : buffer.subarray(total);
      done(status);
      if (!buffer) return;
    }
  };
}

function open(): TLSSocket {
  return connect({
    host: job.host,
    port: job.port,
    cert,
    key,
    rejectUnauthorized: false,
    ALPNProtocols: ["http/1.1"],
    servername: "localhost",
  });
}

function keepAliveLoop(): Promise<void> {
  return new Promise((resolve) => {
    const socket = open();
    socket.setNoDelay(true);
    let started = 0;
    const send = () => {
      if (stopping) {
        socket.destroy();
        resolve();
        return;
      }
      started = performance.now();
      socket.write(requests[next++ % requests.length]!);
    };
    socket.on(
      "data",
      responseReader((status) => {
        record(status, started);
        send();
      }),
    );
    socket.once("secureConnect", send);
    socket.on("error", () => {
      socketErrors++;
      socket.destroy();
      // A server that is gone would otherwise be reconnected to until the deadline.
      if (socketErrors > 1000) stopping = true;
      // A broken connection is replaced, so that one failure does not end this loop.
      if (!stopping) keepAliveLoop().then(resolve);
      else resolve();
    });
  });
}

async function handshakeLoop(): Promise<void> {
  while (!stopping) {
    await new Promise<void>((resolve) => {
      const started = performance.now();
      const socket = open();
      socket.setNoDelay(true);
      let answered = false;
      socket.once("secureConnect", () => socket.write(requests[next++ % requests.length]!));
      socket.on(
        "data",
        responseReader((status) => {
          answered = true;
          record(status, started);
          socket.destroy();
          resolve();
        }),
      );
      socket.on("error", () => {
        if (!answered && measuring) socketErrors++;
        socket.destroy();
        resolve();
      });
      socket.on("close", () => resolve());
    });
  }
}

const cpuStart = process.cpuUsage();
const loops = Array.from({ length: job.connections }, () => (job.mode === "keep-alive" ? keepAliveLoop() : handshakeLoop()));
await new Promise((r) => setTimeout(r, job.warmupMs));
measuring = true;
const t0 = performance.now();
const cpu0 = process.cpuUsage(cpuStart);
// The window ends after durationMs, or earlier once maxRequests answers were counted.
await new Promise<void>((resolve) => {
  const deadline = performance.now() + job.durationMs;
  const tick = setInterval(() => {
    if (stopping || performance.now() >= deadline) {
      clearInterval(tick);
      resolve();
    }
  }, 10);
});
const elapsedMs = performance.now() - t0;
measuring = false;
const cpu1 = process.cpuUsage(cpuStart);
stopping = true;
await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 3000))]);

const result: WorkerResult = {
  requests: counted,
  statuses,
  socketErrors,
  elapsedMs,
  latenciesUs: Array.from(latencies.subarray(0, samples), (v) => Math.round(v)),
  cpuMs: (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / 1000,
};
process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
