import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createTlsServer, type Server as TlsServer, type TlsOptions, type TLSSocket } from "node:tls";
import { toWebRequest, writeWebResponse } from "./node-http.ts";
import { MAX_BODY_BYTES } from "../../http/limits.ts";
import type { PeerInfo } from "../../http/peer.ts";
import { unmapSocketAddress } from "../../net/ip.ts";
import type { BridgeSettings, Fetch, Listening, TlsMaterial } from "../serve.ts";
import { PresentedChains } from "./presented-chains.ts";

/** The connection's peer, kept on the socket itself: a WeakMap entry per connection costs the collector more. */
const PEER = Symbol("certauth.peer");
type PeerSocket = TLSSocket & { [PEER]?: PeerInfo };

/**
 * The peer chain of this connection's TLS session, read once per connection since getPeerCertificate is costly.
 * A resumed session reports the chain of the handshake that created it, whose secret only that client holds.
 */
export function readPeer(socket: TLSSocket, chains: PresentedChains): PeerInfo {
  const remoteAddress = unmapSocketAddress(socket.remoteAddress ?? "");
  const chain: Uint8Array[] = [];
  const seen = new Set<object>();
  let cert = socket.getPeerCertificate(true) as { raw?: Uint8Array; issuerCertificate?: unknown } | null;
  while (cert && cert.raw && cert.raw.length > 0 && !seen.has(cert)) {
    seen.add(cert);
    chain.push(new Uint8Array(cert.raw));
    const next = cert.issuerCertificate as typeof cert;
    if (!next || next === cert) break;
    cert = next;
  }
  if (socket.isSessionReused()) return { remoteAddress, certificateChain: chains.complete(chain) };
  chains.remember(chain);
  return { remoteAddress, certificateChain: chain };
}

export interface BridgeOptions extends BridgeSettings {
  tls: TlsMaterial;
  /**
   * Serve with node:https instead of feeding node:tls sockets to node:http: on Deno the latter closes
   * every connection after one response, while Bun's node:https hides the peer certificate.
   */
  httpsServer?: boolean;
  /** Told of each new connection: a runtime whose collector needs a hint takes it here. */
  onConnection?: () => void;
}

/**
 * A node:tls server that hands each socket to node:http: the one listener that exposes the client's
 * certificate chain on Node, Bun and Deno alike. With `httpsServer`, node:https plays both parts instead.
 */
export function createTlsBridge(fetch: Fetch, options: BridgeOptions) {
  const chains = new PresentedChains();
  const peerOf = (socket: TLSSocket): PeerInfo => {
    const peer = readPeer(socket, chains);
    options.onConnection?.();
    return peer;
  };
  const onRequest = (incoming: IncomingMessage, outgoing: ServerResponse) => {
    const socket = incoming.socket as PeerSocket;
    const peer = (socket[PEER] ??= peerOf(socket));
    toWebRequest(incoming, options.maxBodySize ?? MAX_BODY_BYTES)
      .then(async ({ request, truncated }) => writeWebResponse(await fetch(request, { peer }), outgoing, truncated))
      .catch(() => {
        if (!outgoing.headersSent) outgoing.writeHead(500, { "content-type": "application/json", connection: "close" });
        outgoing.end();
      });
  };
  const httpOptions = { keepAliveTimeout: 65_000, headersTimeout: 30_000, requestTimeout: 60_000, maxHeaderSize: options.maxHeaderSize };
  const requireCert = Boolean(options.tls.clientCa);
  const tlsOptions: TlsOptions = {
    cert: options.tls.cert,
    key: options.tls.key,
    ca: options.tls.clientCa,
    requestCert: options.requestCert || requireCert,
    // Each identity has its own CA, so the app verifies; only TLS_CLIENT_CA_FILE makes the handshake strict.
    rejectUnauthorized: requireCert,
    minVersion: "TLSv1.2",
    ALPNProtocols: ["http/1.1"],
  };
  // A renegotiation could swap the certificate behind the cached chain; refuse it.
  const refuseRenegotiation = (socket: TLSSocket) => socket.disableRenegotiation?.();
  let server: TlsServer;
  let http: HttpServer;
  if (options.httpsServer) {
    const https = createHttpsServer({ ...tlsOptions, ...httpOptions }, onRequest);
    https.on("secureConnection", refuseRenegotiation);
    server = https;
    http = https;
  } else {
    http = createHttpServer(httpOptions, onRequest);
    server = createTlsServer(tlsOptions, (socket) => {
      refuseRenegotiation(socket);
      (socket as PeerSocket)[PEER] = peerOf(socket);
      http.emit("connection", socket);
    });
  }
  server.on("tlsClientError", () => {});
  // Stop accepting; a kept-alive connection is closed as soon as it is idle, so requests in flight finish
  // (src/server/main.ts bounds the wait; past that, what is left is cut).
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      const reaper = setInterval(() => http.closeIdleConnections?.(), 100);
      const cut = setTimeout(() => http.closeAllConnections?.(), 10_000);
      server.close(() => {
        clearInterval(reaper);
        clearTimeout(cut);
        resolve();
      });
      http.closeIdleConnections?.();
    });
  return {
    listen(port: number, host: string): Promise<Listening> {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address();
          resolve({ port: typeof address === "object" && address ? address.port : port, close });
        });
      });
    },
  };
}
