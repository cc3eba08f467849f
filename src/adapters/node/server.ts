import { createTlsBridge } from "../node-tls/bridge.ts";
import type { Listening, ServeOptions } from "../serve.ts";

/** Node's listener in every mode: the node:tls → node:http bridge. */
export function serve(options: ServeOptions): Promise<Listening> {
  return createTlsBridge(options.fetch, { ...options.bridge, tls: options.tls }).listen(options.port, options.host);
}
