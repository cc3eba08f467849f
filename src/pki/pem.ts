import * as x509 from "./x509.ts";
import { TrustConfigError } from "./errors.ts";

function pemBlocks(pem: string, types: readonly string[], what: string): Uint8Array<ArrayBuffer>[] {
  let structs: x509.PemStruct[];
  try {
    structs = x509.PemConverter.decodeWithHeaders(pem);
  } catch {
    throw new TrustConfigError(`The ${what} is not valid PEM.`);
  }
  const blocks = structs.filter((s) => types.includes(s.type)).map((s) => new Uint8Array(s.rawData));
  if (blocks.length === 0) throw new TrustConfigError(`The ${what} contains no PEM "${types[0]}" block.`);
  return blocks;
}

/** DER of each CERTIFICATE block in `pem`; throws TrustConfigError when there is none or one does not decode. */
export function parsePemCertificates(pem: string): Uint8Array<ArrayBuffer>[] {
  const blocks = pemBlocks(pem, ["CERTIFICATE"], "CA certificate");
  blocks.forEach((der, i) => {
    try {
      new x509.X509Certificate(der);
    } catch {
      throw new TrustConfigError(`Certificate #${i + 1} of the CA certificate PEM could not be decoded as X.509.`);
    }
  });
  return blocks;
}

/** DER of each "X509 CRL" block (RFC 7468; "CRL" accepted too) in `pem`; decoding is left to the caller. */
export function parsePemCrlBlocks(pem: string): Uint8Array<ArrayBuffer>[] {
  return pemBlocks(pem, ["X509 CRL", "CRL"], "CRL list");
}
