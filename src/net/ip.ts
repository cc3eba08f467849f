import ipaddr from "ipaddr.js";

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

const PREFIX = /^(0|[1-9][0-9]{0,2})$/;

/**
 * Plain dotted-quad IPv4 or standard IPv6 text without a zone. The shorthands inet_aton accepts ("10",
 * "010.0.0.1", "0x0a.0.0.1") read as other addresses than a person means, so they are not addresses here.
 */
export function isPlainIp(text: string): boolean {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return true;
  if (text.includes("%") || !ipaddr.IPv6.isValid(text)) return false;
  const tail = text.slice(text.lastIndexOf(":") + 1);
  return !tail.includes(".") || ipaddr.IPv4.isValidFourPartDecimal(tail);
}

/** Parses an address or CIDR; IPv4-mapped IPv6 addresses become IPv4. Throws on anything else. */
export function parseCidr(text: string): Cidr {
  const parts = text.trim().split("/");
  if (parts.length > 2) throw new Error(`"${text}" is not an IP address or CIDR range`);
  const [address, prefix] = parts as [string, string | undefined];
  if (prefix === undefined) {
    const ip = parseIp(address);
    return [ip, ip.kind() === "ipv4" ? 32 : 128];
  }
  if (!isPlainIp(address) || !PREFIX.test(prefix)) throw new Error(`"${text}" is not an IP address or CIDR range`);
  const ip = ipaddr.parse(address);
  const bits = Number(prefix);
  if (bits > (ip.kind() === "ipv4" ? 32 : 128)) throw new Error(`"${text}" has a prefix longer than its address`);
  return [ip, bits];
}

export function parseIp(text: string): ipaddr.IPv4 | ipaddr.IPv6 {
  const trimmed = text.trim();
  if (!isPlainIp(trimmed)) throw new Error(`"${text}" is not an IPv4 or IPv6 address`);
  const ip = ipaddr.parse(trimmed);
  if (ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress()) return (ip as ipaddr.IPv6).toIPv4Address();
  return ip;
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

/** A socket's address as text with an IPv4-mapped IPv6 prefix ("::ffff:10.0.0.1") removed; anything else unchanged. */
export function unmapIpv4(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
