/**
 * The ceiling: a bare mTLS server with the service's listener pattern (node:tls handing sockets to
 * node:http, client certificate requested, not verified at the handshake) that answers every POST with a
 * fixed JSON body shaped like a login answer. PEER_READ=request reads the peer chain on every request
 * (what a naive bridge does); PEER_READ=connection reads it once per connection (what the service does).
 *
 *   PORT=… TLS_CERT_FILE=… TLS_KEY_FILE=… PEER_READ=request|connection bun bench/ceiling-server.ts
 *
 * CEILING_IDLE_SERVICE=1 also starts the service in the same process, on an embedded database of its own, and
 * never calls it: what the service's heap alone (PGlite's WebAssembly memory, the app's modules) costs a bare
 * server through the collector. `bun bench/profile.ts --tls --stages ceiling --compare . --compare-stages ceiling
 * --compare-env CEILING_IDLE_SERVICE=1` runs the two side by side.
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";

if (process.env.CEILING_IDLE_SERVICE === "1") {
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { bootstrap } = await import("../src/server/bootstrap.ts");
  const service = await bootstrap({ DATA_DIR: mkdtempSync(join(tmpdir(), "certauth-ceiling-")), ADMIN_TOKEN: "ceiling-admin-token-0123456789abcdefghijkl", LOG_LEVEL: "silent" }, () => {});
  (globalThis as { idleService?: unknown }).idleService = service;
}
const peerRead = process.env.PEER_READ === "connection" ? "connection" : "request";
const body = JSON.stringify({
  accessToken: "x".repeat(560),
  expiresIn: 2592000,
  accessTokenMaxTTL: 2592000,
  tokenType: "Bearer",
});

type Cert = { raw?: Uint8Array; issuerCertificate?: Cert };
const chains = new WeakMap<object, Uint8Array[]>();

function readChain(socket: TLSSocket): Uint8Array[] {
  const chain: Uint8Array[] = [];
  const seen = new Set<object>();
  let cert = socket.getPeerCertificate(true) as Cert | null;
  while (cert && cert.raw && cert.raw.length > 0 && !seen.has(cert)) {
    seen.add(cert);
    chain.push(new Uint8Array(cert.raw));
    if (!cert.issuerCertificate || cert.issuerCertificate === cert) break;
    cert = cert.issuerCertificate;
  }
  return chain;
}

const http = createHttpServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const socket = req.socket as TLSSocket;
  const chain = peerRead === "connection" ? chains.get(socket) ?? [] : readChain(socket);
  req.resume();
  req.on("end", () => {
    res.writeHead(chain.length > 0 ? 200 : 400, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) });
    res.end(body);
  });
});

const server = createTlsServer(
  {
    cert: readFileSync(process.env.TLS_CERT_FILE!),
    key: readFileSync(process.env.TLS_KEY_FILE!),
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: "TLSv1.2",
    ALPNProtocols: ["http/1.1"],
  },
  (socket) => {
    socket.disableRenegotiation?.();
    if (peerRead === "connection") chains.set(socket, readChain(socket));
    http.emit("connection", socket);
  },
);
server.on("tlsClientError", () => {});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const address = server.address();
  console.error(`ceiling: listening on ${typeof address === "object" && address ? address.port : 0} (${peerRead})`);
});
const stop = () => process.exit(0);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
