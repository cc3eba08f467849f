import ipaddr from "ipaddr.js";

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;
/** An address and its prefix length. */
export type Cidr = [IpAddress, number];

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

/** "::a.b.c.d": an IPv4-compatible address (inet_ntop writes ::a00:1 so), which ipaddr.js reads as IPv4-mapped ::ffff:a.b.c.d. */
const IPV4_COMPATIBLE = /^::(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/** A plain address as written, its family kept ("::ffff:10.0.0.1" stays IPv6); null for anything else. */
export function readIp(text: string): IpAddress | null {
  if (!isPlainIp(text)) return null;
  const compatible = IPV4_COMPATIBLE.exec(text);
  // Not the IPv4 address it embeds: a peer at ::a00:1 is not the proxy 10.0.0.1.
  return ipaddr.parse(compatible ? `::0:${compatible[1]}` : text);
}

/** The IPv4 address an IPv4-mapped IPv6 address (::ffff:a00:1) carries; any other address unchanged. */
export function unmapIpv4(ip: IpAddress): IpAddress {
  return ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
}

/** A configured address, IPv4-mapped IPv6 read as IPv4. Throws on anything else. */
export function parseIp(text: string): IpAddress {
  const ip = readIp(text.trim());
  if (ip === null) throw new Error(`"${text}" is not an IPv4 or IPv6 address`);
  return unmapIpv4(ip);
}

/** A configured address or CIDR range; a lone address is its own range. Throws on anything else. */
export function parseCidr(text: string): Cidr {
  const parts = text.trim().split("/");
  if (parts.length > 2) throw new Error(`"${text}" is not an IP address or CIDR range`);
  const [address, prefix] = parts as [string, string | undefined];
  if (prefix === undefined) {
    const ip = parseIp(address);
    return [ip, ip.kind() === "ipv4" ? 32 : 128];
  }
  const ip = readIp(address);
  if (ip === null || !PREFIX.test(prefix)) throw new Error(`"${text}" is not an IP address or CIDR range`);
  const bits = Number(prefix);
  if (bits > (ip.kind() === "ipv4" ? 32 : 128)) throw new Error(`"${text}" has a prefix longer than its address`);
  return [ip, bits];
}

/** A CIDR range as a certificate's name constraint reads, or null when the text is none. */
export function readCidr(text: string): Cidr | null {
  if (!text.includes("/")) return null;
  try {
    return parseCidr(text);
  } catch {
    return null;
  }
}

/** True when `address` lies in one of `ranges`; an unparsable address is in none. */
export function ipInRanges(address: string, ranges: readonly Cidr[]): boolean {
  let ip: IpAddress;
  try {
    ip = parseIp(address);
  } catch {
    return false;
  }
  return ranges.some(([net, prefix]) => net.kind() === ip.kind() && ip.match(net as never, prefix));
}

/** The one text of an address, so equal addresses compare equal (IPv6 compressed, IPv4-mapped unwrapped); null when not plain. */
export function canonicalIp(text: string): string | null {
  const ip = readIp(text);
  return ip === null ? null : unmapIpv4(ip).toString();
}

/** A socket's remote address with an IPv4-mapped prefix ("::ffff:10.0.0.1") removed; anything else unchanged. */
export function unmapSocketAddress(address: string): string {
  if (!address.startsWith("::ffff:")) return address;
  const ip = readIp(address);
  return ip === null ? address : unmapIpv4(ip).toString();
}
