import type { Service } from "../shared/bootstrap.ts";
import { bridgeOptions, needsPeerCertificate, peerWithoutCertificate, type Listening } from "../shared/listener.ts";
import { createTlsBridge } from "../shared/tls-bridge.ts";

/**
 * Deno.serve ignores requestCert (denoland/deno#26825): when the certificate comes from TLS the
 * listener is the bridge in its node:https form; in header-only mode Deno.serve serves.
 */
export async function startDenoServer(service: Service, port: number, host: string): Promise<Listening> {
  if (needsPeerCertificate(service)) {
    const options = { ...bridgeOptions(service), httpsServer: true };
    return createTlsBridge((req, env) => service.app.fetch(req, env), options).listen(port, host);
  }
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { port, hostname: host, cert: service.tls.cert, key: service.tls.key, onListen: resolve },
    (req, info) => service.app.fetch(req, { peer: peerWithoutCertificate((info.remoteAddr as Deno.NetAddr).hostname) }),
  );
  const address = await listening;
  return { port: address.port, close: () => server.shutdown() };
}
