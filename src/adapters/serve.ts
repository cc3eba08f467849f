import type { PeerInfo } from "../http/peer.ts";
import { unmapSocketAddress } from "../net/ip.ts";

/** The app as every listener calls it: the request, and the connection's peer as the bindings. */
export type Fetch = (request: Request, env: { peer: PeerInfo }) => Response | Promise<Response>;

export interface TlsMaterial {
  cert: string;
  key: string;
  /** PEM bundle from TLS_CLIENT_CA_FILE: when set, the handshake requires a client certificate chaining to it. */
  clientCa?: string;
}

/** A started listener, whatever the runtime. */
export type Listening = { port: number; close: () => Promise<void> };

/** Settings of the node:tls → node:http bridge that do not depend on the runtime. */
export interface BridgeSettings {
  /** Whether to ask the client for a certificate at all (header-only mode does not). */
  requestCert: boolean;
  /** Total request header bytes node:http accepts. */
  maxHeaderSize: number;
  /** Bytes of request body read at most (default MAX_BODY_BYTES); the app answers 413 past it. */
  maxBodySize?: number;
}

export interface ServeOptions {
  fetch: Fetch;
  port: number;
  host: string;
  tls: TlsMaterial;
  /** The listener must see client certificates: a runtime whose native server cannot hand them over uses the bridge. */
  peerCertificates: boolean;
  bridge: BridgeSettings;
}

/** What each runtime adapter offers the composition root. */
export interface Runtime {
  name: "bun" | "deno" | "node";
  serve(options: ServeOptions): Promise<Listening>;
  /** Told after each statement the embedded database runs, for a runtime whose collector needs the hint. */
  onDatabaseStatement?: () => void;
}

/** The peer of a native server's request, which never carries a client certificate. */
export function peerWithoutCertificate(remoteAddress: string | undefined): PeerInfo {
  return { remoteAddress: unmapSocketAddress(remoteAddress ?? ""), certificateChain: [] };
}
