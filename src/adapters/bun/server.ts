import { createTlsBridge } from "../node-tls/bridge.ts";
import { peerWithoutCertificate, type Listening, type ServeOptions } from "../serve.ts";
import { collectAfterConnections } from "./collector.ts";

/**
 * Bun.serve cannot hand over the client certificate (oven-sh/bun#14097): when the listener must see it, it is
 * the node:tls → node:http bridge; otherwise Bun.serve serves.
 */
export async function serve(options: ServeOptions): Promise<Listening> {
  const { fetch, port, host, tls } = options;
  if (options.peerCertificates) {
    return createTlsBridge(fetch, { ...options.bridge, tls, onConnection: collectAfterConnections() }).listen(port, host);
  }
  const server = Bun.serve({
    port,
    hostname: host,
    tls: { cert: tls.cert, key: tls.key },
    fetch: (req, srv) => fetch(req, { peer: peerWithoutCertificate(srv.requestIP(req)?.address) }),
  });
  return { port: server.port ?? port, close: () => server.stop() };
}
