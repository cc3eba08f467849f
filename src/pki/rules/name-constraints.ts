import type { GeneralName, GeneralSubtree } from "@peculiar/asn1-x509";
import type { ParsedCertificate } from "../lib/certificate.ts";
import { readCidr, readIp, unmapIpv4 } from "../../net/ip.ts";
import { rdnKeys } from "../lib/names.ts";
import type { RuleResult } from "../types.ts";

/**
 * RFC 5280 §4.2.1.10 for dNSName, rfc822Name, iPAddress, URI and directoryName, from every CA on the
 * path (the anchor included), applied to every name of those forms on the leaf: each SAN and the subject's
 * emailAddress values must fit the permitted subtrees of their form (when any exist) and no excluded one.
 * The subject CN is not a DNS name here: client certificates carry their DNS identities in SANs, as
 * Go's crypto/x509 and browsers assume since the CN-as-hostname fallback was retired.
 * Constraints of other forms (otherName…) fail closed when the leaf carries a SAN of such a form.
 */
export function checkNameConstraints(path: readonly ParsedCertificate[]): RuleResult {
  const leaf = path[0]!;
  for (const ca of path.slice(1)) {
    const nc = ca.nameConstraints;
    if (!nc) continue;
    const violation = firstViolation(leaf, [...(nc.permittedSubtrees ?? [])], [...(nc.excludedSubtrees ?? [])]);
    if (violation !== null) {
      return {
        reason: "name_constraint_violation",
        message: `The name ${violation} is outside the name constraints of the CA certificate "${ca.subject}".`,
      };
    }
  }
  return null;
}

type Form = "dns" | "email" | "ip" | "uri" | "dir";

interface FormRule {
  names: (leaf: ParsedCertificate) => string[];
  constraint: (base: GeneralName) => string | undefined;
  matches: (name: string, constraint: string) => boolean;
  /** For excluded subtrees, when wider than `matches`. */
  excludes?: (name: string, constraint: string) => boolean;
}

const FORMS: Record<Form, FormRule> = {
  dns: { names: (l) => l.sans.dns, constraint: (b) => b.dNSName, matches: dnsWithin },
  email: { names: (l) => [...l.sans.email, ...l.emailAddresses], constraint: (b) => b.rfc822Name, matches: emailWithin },
  ip: { names: (l) => l.sans.ip, constraint: (b) => b.iPAddress, matches: ipWithin, excludes: ipExcluded },
  uri: { names: (l) => l.sans.uri, constraint: (b) => b.uniformResourceIdentifier, matches: uriWithin },
  dir: {
    names: (l) => (l.subjectRdns.length ? [l.subjectRdns.join(",")] : []),
    constraint: (b) => (b.directoryName ? rdnKeys(b.directoryName).join(",") : undefined),
    matches: (subject, base) => base === "" || subject === base || subject.startsWith(`${base},`),
  },
};

function firstViolation(leaf: ParsedCertificate, permitted: GeneralSubtree[], excluded: GeneralSubtree[]): string | null {
  for (const form of Object.keys(FORMS) as Form[]) {
    const rule = FORMS[form];
    const allow = permitted.map((s) => rule.constraint(s.base)).filter((c): c is string => c !== undefined);
    const deny = excluded.map((s) => rule.constraint(s.base)).filter((c): c is string => c !== undefined);
    if (!allow.length && !deny.length) continue;
    for (const name of rule.names(leaf)) {
      if (allow.length && !allow.some((c) => rule.matches(name, c))) return `"${name}"`;
      if (deny.some((c) => (rule.excludes ?? rule.matches)(name, c) || !understood(form, name, c))) return `"${name}"`;
    }
  }
  const constrainsOtherForms = [...permitted, ...excluded].some((s) => !(Object.keys(FORMS) as Form[]).some((f) => FORMS[f].constraint(s.base) !== undefined));
  if (constrainsOtherForms && leaf.sans.other.length) return "of an unsupported form";
  return null;
}

/** An excluded subtree that cannot be evaluated against a name excludes it (fail closed). */
function understood(form: Form, name: string, constraint: string): boolean {
  if (form === "ip") return readIp(name) !== null && readCidr(constraint) !== null;
  if (form === "uri") return uriHost(name) !== null;
  return true;
}

function dnsWithin(name: string, constraint: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  const c = constraint.toLowerCase().replace(/\.$/, "");
  if (c === "") return true;
  if (c.startsWith(".")) return n.endsWith(c);
  return n === c || n.endsWith(`.${c}`);
}

function emailWithin(address: string, constraint: string): boolean {
  const at = address.lastIndexOf("@");
  if (at < 0) return false;
  const domain = address.slice(at + 1).toLowerCase();
  if (constraint.includes("@")) {
    const cAt = constraint.lastIndexOf("@");
    return address.slice(0, at) === constraint.slice(0, cAt) && domain === constraint.slice(cAt + 1).toLowerCase();
  }
  const c = constraint.toLowerCase();
  return c.startsWith(".") ? domain.endsWith(c) : domain === c;
}

/** An IPv4-mapped IPv6 SAN is checked as the IPv4 address the allow-list unwraps it to. */
function ipWithin(address: string, constraint: string): boolean {
  const ip = readIp(address);
  const range = readCidr(constraint);
  if (!ip || !range) return false;
  const v4 = unmapIpv4(ip);
  return v4.kind() === range[0].kind() && v4.match(range);
}

/** An IPv6 range excludes a mapped address it covers as written, too (fail closed). */
function ipExcluded(address: string, constraint: string): boolean {
  if (ipWithin(address, constraint)) return true;
  const ip = readIp(address);
  const range = readCidr(constraint);
  return ip !== null && range !== null && ip.kind() === range[0].kind() && ip.match(range);
}

function uriHost(uri: string): string | null {
  try {
    const host = new URL(uri).hostname.toLowerCase();
    return host === "" ? null : host.replace(/^\[(.*)\]$/, "$1");
  } catch {
    return null;
  }
}

function uriWithin(uri: string, constraint: string): boolean {
  const host = uriHost(uri);
  if (host === null) return false;
  const c = constraint.toLowerCase();
  return c.startsWith(".") ? host.endsWith(c) : host === c;
}
