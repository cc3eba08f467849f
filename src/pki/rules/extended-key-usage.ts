import type { ParsedCertificate } from "../lib/certificate.ts";
import type { RuleResult } from "../types.ts";

export const OID_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
export const OID_ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0";

/** No EKU extension means unrestricted; when present it must allow clientAuth or anyExtendedKeyUsage. */
export function allowsClientAuth(cert: ParsedCertificate): boolean {
  return cert.eku === null || cert.eku.includes(OID_CLIENT_AUTH) || cert.eku.includes(OID_ANY_EXTENDED_KEY_USAGE);
}

export function checkLeafExtendedKeyUsage(leaf: ParsedCertificate): RuleResult {
  if (allowsClientAuth(leaf)) return null;
  return {
    reason: "client_auth_usage_not_allowed",
    message: "The certificate's extended key usage does not include clientAuth.",
  };
}

/** Every CA on the path, the trust anchor included. */
export function checkIssuerExtendedKeyUsage(path: readonly ParsedCertificate[]): RuleResult {
  const ca = path.slice(1).find((c) => !allowsClientAuth(c));
  if (!ca) return null;
  return {
    reason: "issuer_client_auth_usage_not_allowed",
    message: `The CA certificate "${ca.subject}" has an extended key usage without clientAuth.`,
  };
}
