import type { Service } from "../shared/bootstrap.ts";
import { createTlsBridge } from "../shared/tls-bridge.ts";

/**
 * Bun.serve cannot hand over the client certificate (oven-sh/bun#14097), so the mTLS listener is
 * the node:tls → node:http bridge, which Bun implements natively.
 */
export function startBunServer(service: Service, port: number, host: string) {
  const bridge = createTlsBridge((req, env) => service.app.fetch(req, env), {
    tls: service.tls,
    requestCert: service.config.CLIENT_CERT_SOURCE.tls,
  });
  return bridge.listen(port, host).then((address) => ({ ...address, close: bridge.close }));
}
