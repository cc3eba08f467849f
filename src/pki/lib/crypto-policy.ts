import { RSAPublicKey } from "@peculiar/asn1-rsa";
import { AsnConvert } from "@peculiar/asn1-schema";
import type * as x509 from "../x509.ts";

/** Signature algorithms whose hash (MD2, MD4, MD5, SHA-1) admits forged certificates or CRLs, by OID. */
const WEAK_SIGNATURES: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.2": "MD2 with RSA",
  "1.2.840.113549.1.1.3": "MD4 with RSA",
  "1.2.840.113549.1.1.4": "MD5 with RSA",
  "1.2.840.113549.1.1.5": "SHA-1 with RSA",
  "1.3.14.3.2.29": "SHA-1 with RSA",
  "1.2.840.10045.4.1": "ECDSA with SHA-1",
  "1.2.840.10040.4.3": "DSA with SHA-1",
};
const RSASSA_PSS = "1.2.840.113549.1.1.10";
const STRONG_CURVES = new Set(["P-256", "P-384", "P-521"]);

/**
 * The name of a weak signature algorithm, or null when it is acceptable. `parsed` gives the algorithm as
 * @peculiar/x509 reads it, for the hash inside RSASSA-PSS parameters (SHA-1 when they are omitted).
 */
export function weakSignatureAlgorithm(oid: string, parsed: () => Algorithm): string | null {
  const weak = WEAK_SIGNATURES[oid];
  if (weak) return weak;
  if (oid !== RSASSA_PSS) return null;
  let hash: string | undefined;
  try {
    hash = ((parsed() as RsaHashedKeyAlgorithm).hash as KeyAlgorithm | undefined)?.name;
  } catch {
    return "RSASSA-PSS with unreadable parameters";
  }
  return hash === "SHA-256" || hash === "SHA-384" || hash === "SHA-512" ? null : `RSASSA-PSS with ${hash ?? "an unknown hash"}`;
}

/**
 * A description of a key the policy refuses (RSA under 2048 bits, an EC curve other than P-256/P-384/P-521), or null.
 * `subjectPublicKey` is the SPKI's BIT STRING contents, an RSAPublicKey for an RSA key.
 */
export function weakKey(publicKey: x509.PublicKey, subjectPublicKey: ArrayBuffer): string | null {
  let algorithm: Algorithm;
  try {
    algorithm = publicKey.algorithm;
  } catch {
    return "a key of an unsupported algorithm";
  }
  switch (algorithm.name) {
    case "RSASSA-PKCS1-v1_5":
    case "RSA-PSS":
    case "RSA-OAEP": {
      // @peculiar/x509's modulusLength counts whole bytes, so a 2047-bit modulus would read as 2048.
      let bits: number;
      try {
        bits = modulusBits(subjectPublicKey);
      } catch {
        return "an unreadable RSA key";
      }
      return bits >= 2048 ? null : `an RSA key of ${bits} bits`;
    }
    case "ECDSA":
    case "ECDH": {
      const curve = (algorithm as EcKeyAlgorithm).namedCurve;
      return STRONG_CURVES.has(curve) ? null : `an EC key on curve ${curve}`;
    }
    case "Ed25519":
    case "Ed448":
      return null;
    default:
      return `a ${algorithm.name} key`;
  }
}

/** The bit length of an RSAPublicKey's modulus: its DER INTEGER without leading zero bytes and the top byte's leading zero bits. */
function modulusBits(rsaPublicKey: ArrayBuffer): number {
  const modulus = new Uint8Array(AsnConvert.parse(rsaPublicKey, RSAPublicKey, { berOptions: { maxDepth: 4, maxNodes: 16 } }).modulus);
  const first = modulus.findIndex((byte) => byte !== 0);
  if (first === -1) return 0;
  return (modulus.length - first - 1) * 8 + (32 - Math.clz32(modulus[first]!));
}

/** The sentence every weak-key message ends with. */
export const KEY_POLICY = "certauth requires RSA keys of at least 2048 bits or EC keys on P-256, P-384 or P-521 (or Ed25519/Ed448)";
