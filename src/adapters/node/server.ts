import type { Service } from "../shared/bootstrap.ts";
import { bridgeOptions, type Listening } from "../shared/listener.ts";
import { createTlsBridge } from "../shared/tls-bridge.ts";

/** Node's listener in every mode: the node:tls → node:http bridge. */
export function startNodeServer(service: Service, port: number, host: string): Promise<Listening> {
  return createTlsBridge((req, env) => service.app.fetch(req, env), bridgeOptions(service)).listen(port, host);
}
