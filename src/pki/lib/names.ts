import { AsnConvert } from "@peculiar/asn1-schema";
import type { AttributeTypeAndValue, Name } from "@peculiar/asn1-x509";

/**
 * Distinguished-name comparison in the spirit of RFC 5280 §7.1: attribute types compared by OID, string
 * values compared after dropping their ASN.1 string type (PrintableString vs UTF8String…), Unicode NFKC,
 * case folding and whitespace collapsing; values of unknown types compared as their DER bytes.
 */
export function normalizeValue(atv: AttributeTypeAndValue): string {
  const v = atv.value;
  const text = v.utf8String ?? v.printableString ?? v.ia5String ?? v.teletexString ?? v.bmpString ?? v.universalString;
  if (text !== undefined) return `s:${text.normalize("NFKC").trim().replace(/\s+/g, " ").toLowerCase()}`;
  const raw = v.anyValue ?? AsnConvert.serialize(v);
  return `x:${toHex(new Uint8Array(raw))}`;
}

/** One normalised key per RDN (its attributes sorted, since an RDN is a SET). */
export function rdnKeys(name: Name): string[] {
  return name.map((rdn) =>
    rdn
      .map((atv) => `${atv.type}=${JSON.stringify(normalizeValue(atv))}`)
      .sort()
      .join("+"),
  );
}

/** A string equal for two names exactly when they match under the rules above. */
export function nameKey(name: Name): string {
  return rdnKeys(name).join(",");
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Hex serial without sign padding or leading zeros, so certificate and CRL serials compare as strings. */
export function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, "");
}
