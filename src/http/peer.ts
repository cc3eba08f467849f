/**
 * What every runtime adapter hands the app about the connection a request came on.
 * The app asks `getPeer(c)`; each adapter fills it in its own way.
 */
export interface PeerInfo {
  /** TCP peer address (IPv4-mapped IPv6 unwrapped). */
  remoteAddress: string;
  /** DER certificates the client presented in this connection's handshake, leaf first; empty when none. */
  certificateChain: Uint8Array[];
}

export type PeerBindings = { peer?: PeerInfo };

const NO_PEER: PeerInfo = { remoteAddress: "", certificateChain: [] };

/** Structural, so that it accepts a Hono context of any app environment carrying these bindings. */
export function getPeer(c: { env: PeerBindings | undefined }): PeerInfo {
  return c.env?.peer ?? NO_PEER;
}
