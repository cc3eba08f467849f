import { AsnConvert } from "@peculiar/asn1-schema";
import { AttributeValue } from "@peculiar/asn1-x509";
import { CERT_PARSE_OPTIONS, type ParsedCertificate } from "./certificate.ts";
import { toHex } from "./names.ts";

/**
 * An OID in dotted form, as `requiredExtensions` and `ext:` claim sources write it. Arcs have at most 12 digits:
 * the X.509 decoder reads a larger arc (a 2.25 UUID OID) as no OID, so such an entry could never match.
 */
export const OID_PATTERN = /^[0-2](\.(0|[1-9][0-9]{0,11})){1,40}$/;

/** The DER value (extnValue's contents) of each of the certificate's extensions with this OID, in order. */
export function extensionValues(cert: ParsedCertificate, oid: string): Uint8Array[] {
  return cert.x509.extensions.filter((e) => e.type === oid).map((e) => new Uint8Array(e.value));
}

/**
 * The extension's value read as a string, as Vault reads it: when the DER is exactly one UTF8String,
 * PrintableString, IA5String, TeletexString, BMPString or UniversalString, its text; otherwise null.
 * "Exactly": the decoded string must encode back to the same bytes, so trailing data or malformed text is no string.
 */
export function extensionText(der: Uint8Array): string | null {
  let value: AttributeValue;
  try {
    value = AsnConvert.parse(der, AttributeValue, CERT_PARSE_OPTIONS);
  } catch {
    return null;
  }
  const text = value.utf8String ?? value.printableString ?? value.ia5String ?? value.teletexString ?? value.bmpString ?? value.universalString;
  if (text === undefined) return null;
  try {
    return toHex(new Uint8Array(AsnConvert.serialize(value))) === toHex(der) ? text : null;
  } catch {
    return null;
  }
}
