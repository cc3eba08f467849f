import { canonicalIp } from "../../net/ip.ts";
import type { ParsedCertificate } from "./certificate.ts";
import { extensionText, extensionValues, OID_PATTERN } from "./extensions.ts";
import { toHex } from "./names.ts";

/** The fixed attributes of a leaf that `claimMappings` may copy; `ext:<oid>` names an extension besides. */
export const FIXED_ATTRIBUTES = ["subject.CN", "subject.O", "subject.OU", "san.dns", "san.uri", "san.email", "san.ip", "serial", "fingerprint"] as const;

export type AttributeSource = { kind: (typeof FIXED_ATTRIBUTES)[number] } | { kind: "ext"; oid: string };

/** A source as written in `claimMappings`, or null when it names nothing certauth reads. */
export function parseAttributeSource(text: string): AttributeSource | null {
  if ((FIXED_ATTRIBUTES as readonly string[]).includes(text)) return { kind: text as (typeof FIXED_ATTRIBUTES)[number] };
  if (text.startsWith("ext:") && OID_PATTERN.test(text.slice(4))) return { kind: "ext", oid: text.slice(4) };
  return null;
}

/**
 * The values of one attribute of a verified leaf, as strings: names as decoded, IP addresses in canonical text,
 * the serial and the SHA-256 fingerprint in lower-case hex, an extension's value as a string when it is a DER
 * string type, else its DER in lower-case hex.
 */
export function readAttribute(cert: ParsedCertificate, source: AttributeSource): string[] {
  switch (source.kind) {
    case "subject.CN":
      return cert.commonNames;
    case "subject.O":
      return cert.organizations;
    case "subject.OU":
      return cert.organizationalUnits;
    case "san.dns":
      return cert.sans.dns;
    case "san.uri":
      return cert.sans.uri;
    case "san.email":
      return cert.sans.email;
    case "san.ip":
      return cert.sans.ip.map((ip) => canonicalIp(ip) ?? ip);
    case "serial":
      return [cert.serial];
    case "fingerprint":
      return [cert.fingerprint];
    case "ext":
      return extensionValues(cert, source.oid).map((der) => extensionText(der) ?? toHex(der));
  }
}
