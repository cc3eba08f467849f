import type { Listening, Runtime } from "../adapters/serve.ts";
import { MAX_FORWARDED_VALUE_BYTES } from "../http/forwarded/index.ts";
import { MAX_BODY_BYTES } from "../http/limits.ts";
import { onPgliteStatement } from "../db/pglite-driver.ts";
import type { Service } from "./bootstrap.ts";

/**
 * True when the listener must see client certificates: CLIENT_CERT_SOURCE includes tls, or
 * TLS_CLIENT_CA_FILE asks the handshake to verify them. Otherwise a runtime's native server will do.
 */
export function needsPeerCertificate(service: Service): boolean {
  return service.config.CLIENT_CERT_SOURCE.tls || Boolean(service.tls.clientCa);
}

/** The request headers node:http accepts besides a forwarded certificate. */
const HEADER_BYTES = 16 * 1024;

/** Starts the runtime's listener for the service, on the configured address unless told another. */
export function startServer(runtime: Runtime, service: Service, port = service.config.PORT, host = service.config.HOST): Promise<Listening> {
  if (runtime.onDatabaseStatement) onPgliteStatement(runtime.onDatabaseStatement);
  const { config, tls, app } = service;
  return runtime.serve({
    fetch: (req, env) => app.fetch(req, env),
    port,
    host,
    tls,
    peerCertificates: needsPeerCertificate(service),
    bridge: {
      requestCert: config.CLIENT_CERT_SOURCE.tls,
      // Room for a forwarded chain at its own limit on top of the ordinary headers.
      maxHeaderSize: config.CLIENT_CERT_SOURCE.header ? MAX_FORWARDED_VALUE_BYTES + HEADER_BYTES : HEADER_BYTES,
      maxBodySize: MAX_BODY_BYTES,
    },
  });
}
