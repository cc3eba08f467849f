import type { Service } from "../shared/bootstrap.ts";
import { bridgeOptions, needsPeerCertificate, peerWithoutCertificate, type Listening } from "../shared/listener.ts";
import { createTlsBridge } from "../shared/tls-bridge.ts";

/**
 * Bun.serve cannot hand over the client certificate (oven-sh/bun#14097): when the certificate comes
 * from TLS the listener is the node:tls → node:http bridge; in header-only mode Bun.serve serves.
 */
export async function startBunServer(service: Service, port: number, host: string): Promise<Listening> {
  if (needsPeerCertificate(service)) {
    return createTlsBridge((req, env) => service.app.fetch(req, env), bridgeOptions(service)).listen(port, host);
  }
  const server = Bun.serve({
    port,
    hostname: host,
    tls: { cert: service.tls.cert, key: service.tls.key },
    fetch: (req, srv) => service.app.fetch(req, { peer: peerWithoutCertificate(srv.requestIP(req)?.address) }),
  });
  return { port: server.port ?? port, close: () => server.stop() };
}
