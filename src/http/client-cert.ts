/**
 * Where a request's client certificate and client IP come from (a login, a bound token's use): the TLS
 * peer, or a trusted proxy's headers.
 * A forwarded header from anyone outside TRUSTED_PROXIES is never parsed.
 */
import type { Context } from "hono";
import { getPeer, type PeerInfo } from "../http/peer.ts";
import type { Config } from "../config.ts";
import type { AppEnv } from "./env.ts";
import { canonicalIp, ipInRanges, type Cidr } from "../net/ip.ts";
import { decodeForwardedCertificate } from "./forwarded/index.ts";

const RFC9440_HEADER = "client-cert";
const RFC9440_CHAIN_HEADER = "client-cert-chain";

/** DER chain, leaf first; null when the request carries no certificate at all. */
export function clientCertificateChain(c: Context<AppEnv>, config: Config): Uint8Array[] | null {
  const peer = getPeer(c);
  const source = config.CLIENT_CERT_SOURCE;
  // A trusted proxy speaks for its client: only what it forwards counts, never its own TLS certificate (PRODUCT §1).
  if (fromTrustedProxy(peer, config.TRUSTED_PROXIES)) {
    if (!source.header) return null;
    const value = c.req.raw.headers.get(config.CLIENT_CERT_HEADER);
    if (value === null || value.trim() === "") return null;
    const chain = config.CLIENT_CERT_HEADER === RFC9440_HEADER ? c.req.raw.headers.get(RFC9440_CHAIN_HEADER) : null;
    return decodeForwardedCertificate(value, chain);
  }
  if (source.tls && peer.certificateChain.length > 0) return peer.certificateChain;
  return null;
}

/** The TCP peer, or behind trusted proxies the nearest X-Forwarded-For address that is not itself a trusted proxy. */
export function clientIp(c: Context<AppEnv>, config: Config): string {
  const info = getPeer(c);
  if (!fromTrustedProxy(info, config.TRUSTED_PROXIES)) return info.remoteAddress;
  // Asked by the rate limiter, the login and the request's log line: X-Forwarded-For is read once per request.
  const known = forwardedIps.get(c);
  if (known && known.config === config) return known.ip;
  const ip = forwardedClientIp(c, info.remoteAddress, config);
  forwardedIps.set(c, { config, ip });
  return ip;
}

const forwardedIps = new WeakMap<object, { config: Config; ip: string }>();

function forwardedClientIp(c: Context<AppEnv>, peer: string, config: Config): string {
  const forwarded = c.req.raw.headers.get("x-forwarded-for");
  if (!forwarded) return peer;
  let nearest = peer;
  const hops = forwarded.split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const address = parseHop(hops[i]!);
    // Everything left of an unreadable hop was written by the client; stop at the last address we can trust.
    if (address === null) return nearest;
    if (!ipInRanges(address, config.TRUSTED_PROXIES)) return address;
    nearest = address;
  }
  return nearest;
}

/**
 * Whether the TCP peer is in TRUSTED_PROXIES, decided once per PeerInfo (the bridge keeps one per connection)
 * and list of ranges; without trusted proxies no address is even parsed.
 */
const trustedPeers = new WeakMap<PeerInfo, { ranges: readonly Cidr[]; trusted: boolean }>();
function fromTrustedProxy(peer: PeerInfo, ranges: readonly Cidr[]): boolean {
  if (ranges.length === 0) return false;
  const known = trustedPeers.get(peer);
  if (known && known.ranges === ranges) return known.trusted;
  const trusted = ipInRanges(peer.remoteAddress, ranges);
  trustedPeers.set(peer, { ranges, trusted });
  return trusted;
}

/** An X-Forwarded-For entry: `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`; null when not an address. */
function parseHop(hop: string): string | null {
  let text = hop.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) text = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(text)) text = text.slice(0, text.indexOf(":"));
  return canonicalIp(text);
}
