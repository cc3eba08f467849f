import { parseCidr, readIp, type Cidr } from "./ip.ts";

/** REVOCATION_FETCH_ALLOWED_HOSTS, read: host names and `*.`-globs match a URL's host, CIDRs its resolved address. */
export interface AllowedHosts {
  names: ((host: string) => boolean)[];
  ranges: Cidr[];
}

/** Parses the comma-separated list; throws a sentence naming a bad entry. */
export function parseAllowedHosts(value: string): AllowedHosts {
  const allowed: AllowedHosts = { names: [], ranges: [] };
  for (const entry of value.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    if (entry.includes("/") || readIp(entry)) allowed.ranges.push(parseCidr(entry));
    else if (/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*\.?$/.test(entry)) allowed.names.push(hostMatcher(entry));
    else throw new Error(`"${entry}" is not a host name, *.-glob or CIDR`);
  }
  return allowed;
}

/** `name` exactly, or with `*.name`, any one label in front of it; host names compare case-insensitively. */
function hostMatcher(entry: string): (host: string) => boolean {
  if (!entry.startsWith("*.")) return (host) => host.toLowerCase() === entry;
  const suffix = entry.slice(1);
  return (host) => {
    const h = host.toLowerCase();
    return h.endsWith(suffix) && !h.slice(0, -suffix.length).includes(".");
  };
}
