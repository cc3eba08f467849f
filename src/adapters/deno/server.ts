import { createTlsBridge } from "../node-tls/bridge.ts";
import { peerWithoutCertificate, type Listening, type ServeOptions } from "../serve.ts";

/**
 * Deno.serve ignores requestCert (denoland/deno#26825): when the listener must see the client certificate, it
 * is the bridge in its node:https form; otherwise Deno.serve serves.
 */
export async function serve(options: ServeOptions): Promise<Listening> {
  const { fetch, port, host, tls } = options;
  if (options.peerCertificates) {
    return createTlsBridge(fetch, { ...options.bridge, tls, httpsServer: true }).listen(port, host);
  }
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { port, hostname: host, cert: tls.cert, key: tls.key, onListen: resolve },
    (req, info) => fetch(req, { peer: peerWithoutCertificate((info.remoteAddr as Deno.NetAddr).hostname) }),
  );
  const address = await listening;
  return { port: address.port, close: () => server.shutdown() };
}
