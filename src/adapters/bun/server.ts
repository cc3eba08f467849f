import type { Service } from "../shared/bootstrap.ts";
import { bridgeOptions, needsPeerCertificate, peerWithoutCertificate, type Listening } from "../shared/listener.ts";
import { createTlsBridge } from "../shared/tls-bridge.ts";

/**
 * Bun.serve cannot hand over the client certificate (oven-sh/bun#14097): when the certificate comes
 * from TLS the listener is the node:tls → node:http bridge; in header-only mode Bun.serve serves.
 */
export async function startBunServer(service: Service, port: number, host: string): Promise<Listening> {
  if (needsPeerCertificate(service)) {
    return createTlsBridge((req, env) => service.app.fetch(req, env), { ...bridgeOptions(service), onPeer: collectAfterPeers() }).listen(port, host);
  }
  const server = Bun.serve({
    port,
    hostname: host,
    tls: { cert: service.tls.cert, key: service.tls.key },
    fetch: (req, srv) => service.app.fetch(req, { peer: peerWithoutCertificate(srv.requestIP(req)?.address) }),
  });
  return { port: server.port ?? port, close: () => server.stop() };
}

/** What a new connection leaves for the collector beyond its certificates (TLS and HTTP objects), about. */
const CONNECTION_BYTES = 16 * 1024;
/** Bytes of new connections (and their certificates) after which a full collection runs. */
const COLLECT_AFTER_BYTES = 4 * 2 ** 20;

/**
 * Each new connection leaves TLS and HTTP objects, and copies of its certificates, that Bun's collector does
 * not count as pressure: 5,000 connections swelled RSS by 110-230 MiB before a collection. A full one every
 * COLLECT_AFTER_BYTES of them (a few hundred connections) keeps a stream of new connections bounded.
 */
function collectAfterPeers(): (chainBytes: number) => void {
  let bytes = 0;
  return (chainBytes) => {
    bytes += CONNECTION_BYTES + chainBytes;
    if (bytes < COLLECT_AFTER_BYTES) return;
    bytes = 0;
    Bun.gc(true);
  };
}
