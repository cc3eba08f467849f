import type { PeerInfo } from "../peer.ts";
import type { Service } from "./bootstrap.ts";
import type { BridgeOptions } from "./tls-bridge.ts";
import { MAX_BODY_BYTES } from "../../app.ts";

/** What every adapter's `start` resolves to. */
export type Listening = { port: number; close: () => Promise<void> };

/**
 * True when the listener must see client certificates: CLIENT_CERT_SOURCE includes tls, or
 * TLS_CLIENT_CA_FILE asks the handshake to verify them. Otherwise a runtime's native server will do.
 */
export function needsPeerCertificate(service: Service): boolean {
  return service.config.CLIENT_CERT_SOURCE.tls || Boolean(service.tls.clientCa);
}

/** Bridge settings from the configuration; a forwarded chain may need up to 64 KiB of headers. */
export function bridgeOptions(service: Service): BridgeOptions {
  return {
    tls: service.tls,
    requestCert: service.config.CLIENT_CERT_SOURCE.tls,
    maxHeaderSize: service.config.CLIENT_CERT_SOURCE.header ? 80 * 1024 : 16 * 1024,
    maxBodySize: MAX_BODY_BYTES,
  };
}

/** The peer of a native server's request, which never carries a client certificate. */
export function peerWithoutCertificate(remoteAddress: string | undefined): PeerInfo {
  return { remoteAddress: unmapIpv4(remoteAddress ?? ""), certificateChain: [] };
}

export function unmapIpv4(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
