import { AsnConvert } from "@peculiar/asn1-schema";
import { CRLDistributionPoints, id_ce_cRLDistributionPoints } from "@peculiar/asn1-x509";
import { CERT_PARSE_OPTIONS, type ParsedCertificate } from "./certificate.ts";

/** Distribution point URLs read per certificate at most; a certificate naming more has the rest ignored. */
export const MAX_URLS_PER_CERTIFICATE = 4;

const urlsOf = new WeakMap<ParsedCertificate, readonly string[]>();

/**
 * The http/https fullName URIs of a certificate's CRL distribution points (RFC 5280 §4.2.1.13), first
 * MAX_URLS_PER_CERTIFICATE, decoded once per certificate. A point limited to some reasons or naming another
 * CRL issuer (an indirect or partitioned CRL, which would not cover the certificate's status alone) is skipped.
 */
export function distributionPointUrls(cert: ParsedCertificate): readonly string[] {
  let urls = urlsOf.get(cert);
  if (urls) return urls;
  const found: string[] = [];
  try {
    const ext = cert.x509.getExtension(id_ce_cRLDistributionPoints);
    const points = ext ? AsnConvert.parse(ext.value, CRLDistributionPoints, CERT_PARSE_OPTIONS) : [];
    for (const point of points) {
      if (point.reasons || point.cRLIssuer) continue;
      for (const name of point.distributionPoint?.fullName ?? []) {
        const uri = name.uniformResourceIdentifier;
        if (uri && /^https?:\/\//i.test(uri) && !found.includes(uri)) found.push(uri);
      }
    }
  } catch {
    // An undecodable extension names no usable point: the rule then fails closed.
  }
  urls = found.slice(0, MAX_URLS_PER_CERTIFICATE);
  urlsOf.set(cert, urls);
  return urls;
}
