import ipaddr from "ipaddr.js";

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parses an address or CIDR; IPv4-mapped IPv6 addresses become IPv4. Throws on anything else. */
export function parseCidr(text: string): Cidr {
  if (text.includes("/")) {
    const [ip, prefix] = ipaddr.parseCIDR(text);
    return [ip, prefix];
  }
  const ip = parseIp(text);
  return [ip, ip.kind() === "ipv4" ? 32 : 128];
}

export function parseIp(text: string): ipaddr.IPv4 | ipaddr.IPv6 {
  const ip = ipaddr.parse(text.trim());
  if (ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress()) return (ip as ipaddr.IPv6).toIPv4Address();
  return ip;
}

export function isIpOrCidr(text: string): boolean {
  try {
    parseCidr(text);
    return true;
  } catch {
    return false;
  }
}

/** True when `address` lies in one of `ranges`; an unparsable address is in none. */
export function ipInRanges(address: string, ranges: readonly Cidr[]): boolean {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = parseIp(address);
  } catch {
    return false;
  }
  return ranges.some(([net, prefix]) => net.kind() === ip.kind() && ip.match(net as never, prefix));
}

/** The canonical text of an address (IPv6 compressed, IPv4-mapped unwrapped). */
export function canonicalIp(address: string): string {
  return parseIp(address).toString();
}
