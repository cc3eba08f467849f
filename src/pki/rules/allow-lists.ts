import type { ParsedCertificate } from "../lib/certificate.ts";
import { anyRunGlob, labelGlob, type Matcher } from "../lib/glob.ts";
import { canonicalIp } from "../../net/ip.ts";
import { TrustConfigError } from "../errors.ts";
import type { RuleResult, TrustSettings } from "../types.ts";

export interface AllowedSubjectAltNames {
  dns: Matcher[];
  /** Canonical IP texts (see canonicalIp). */
  ip: Set<string>;
  email: Matcher[];
  uri: Matcher[];
}

export interface AllowLists {
  commonNames: Matcher[] | null;
  subjectAltNames: AllowedSubjectAltNames | null;
  organizations: Matcher[] | null;
  organizationalUnits: Matcher[] | null;
}

const nonEmpty = <T>(list: T[] | null | undefined): list is T[] => Array.isArray(list) && list.length > 0;

/** Pre-compiles the allow-lists of a configuration; throws TrustConfigError on a malformed SAN entry. */
export function compileAllowLists(settings: TrustSettings): AllowLists {
  const cnEntries = (settings.allowedCommonNames ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return {
    commonNames: cnEntries.length ? cnEntries.map((p) => labelGlob(p)) : null,
    subjectAltNames: nonEmpty(settings.allowedSubjectAltNames) ? compileSans(settings.allowedSubjectAltNames) : null,
    organizations: nonEmpty(settings.allowedOrganizations) ? settings.allowedOrganizations.map((p) => anyRunGlob(p)) : null,
    organizationalUnits: nonEmpty(settings.allowedOrganizationalUnits)
      ? settings.allowedOrganizationalUnits.map((p) => anyRunGlob(p))
      : null,
  };
}

function compileSans(entries: string[]): AllowedSubjectAltNames {
  const out: AllowedSubjectAltNames = { dns: [], ip: new Set(), email: [], uri: [] };
  for (const raw of entries) {
    const entry = raw.trim();
    const colon = entry.indexOf(":");
    const prefix = colon < 0 ? "dns" : entry.slice(0, colon).toLowerCase();
    const value = colon < 0 ? entry : entry.slice(colon + 1);
    if (value === "") throw new TrustConfigError(`The allowed subject alternative name "${raw}" has an empty value.`);
    switch (prefix) {
      case "dns":
        if (/[\s/:@]/.test(value)) throw new TrustConfigError(`The allowed subject alternative name "${raw}" is not a DNS name.`);
        out.dns.push(labelGlob(value, true));
        break;
      case "ip": {
        const ip = canonicalIp(value);
        if (ip === null) {
          throw new TrustConfigError(
            `The allowed subject alternative name "${raw}" is not a single IP address (ip: entries take no globs or ranges).`,
          );
        }
        out.ip.add(ip);
        break;
      }
      case "email":
        out.email.push(anyRunGlob(value, true));
        break;
      case "uri":
        out.uri.push(anyRunGlob(value));
        break;
      default:
        throw new TrustConfigError(
          `The allowed subject alternative name "${raw}" has an unknown prefix; use dns:, ip:, email: or uri:.`,
        );
    }
  }
  return out;
}

export function checkCommonName(leaf: ParsedCertificate, allowed: Matcher[] | null): RuleResult {
  if (!allowed) return null;
  if (leaf.commonNames.some((cn) => allowed.some((m) => m(cn)))) return null;
  return {
    reason: "common_name_not_allowed",
    message: leaf.commonNames.length
      ? `The certificate's common name "${leaf.commonNames.join(", ")}" is not in the allowed common names.`
      : "The certificate has no common name, and the configuration only allows listed common names.",
  };
}

export function checkSubjectAltNames(leaf: ParsedCertificate, allowed: AllowedSubjectAltNames | null): RuleResult {
  if (!allowed) return null;
  const { dns, ip, email, uri } = leaf.sans;
  const matches =
    dns.some((name) => allowed.dns.some((m) => m(name))) ||
    ip.some((addr) => {
      const canonical = canonicalIp(addr);
      return canonical !== null && allowed.ip.has(canonical);
    }) ||
    email.some((addr) => allowed.email.some((m) => m(addr))) ||
    uri.some((u) => allowed.uri.some((m) => m(u)));
  if (matches) return null;
  return {
    reason: "subject_alt_name_not_allowed",
    message: "None of the certificate's subject alternative names is in the allowed subject alternative names.",
  };
}

export function checkOrganization(leaf: ParsedCertificate, allowed: Matcher[] | null): RuleResult {
  if (!allowed || leaf.organizations.some((o) => allowed.some((m) => m(o)))) return null;
  return {
    reason: "organization_not_allowed",
    message: "The certificate's organization (O) is not in the allowed organizations.",
  };
}

export function checkOrganizationalUnit(leaf: ParsedCertificate, allowed: Matcher[] | null): RuleResult {
  if (!allowed || leaf.organizationalUnits.some((ou) => allowed.some((m) => m(ou)))) return null;
  return {
    reason: "organizational_unit_not_allowed",
    message: "The certificate's organizational unit (OU) is not in the allowed organizational units.",
  };
}
