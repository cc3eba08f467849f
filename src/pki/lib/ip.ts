import ipaddr from "ipaddr.js";

/** Canonical text of a literal IP ("::1" → "0:0:0:0:0:0:0:1", "::ffff:10.0.0.1" → "10.0.0.1"), or null. */
export function canonicalIp(text: string): string | null {
  if (!ipaddr.IPv4.isValidFourPartDecimal(text) && !ipaddr.IPv6.isValid(text)) return null;
  if (text.includes("%")) return null;
  return ipaddr.process(text).toNormalizedString();
}

/** An address and prefix from a name constraint ("10.0.0.0/8"), or null when it is not a CIDR. */
export function parseCidr(text: string): [ipaddr.IPv4 | ipaddr.IPv6, number] | null {
  try {
    return ipaddr.parseCIDR(text);
  } catch {
    return null;
  }
}

/** Parses a literal address from a certificate SAN, keeping its family (IPv4-mapped IPv6 stays IPv6). */
export function parseIp(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (!ipaddr.IPv4.isValidFourPartDecimal(text) && !ipaddr.IPv6.isValid(text)) return null;
  return ipaddr.parse(text);
}

/** An IPv4-mapped IPv6 address (::ffff:a00:1) as the IPv4 address it carries; any other address unchanged. */
export function unmapped(ip: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
}
