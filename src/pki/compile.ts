import { fullyDecoded, parseCertificate, type ParsedCertificate } from "./lib/certificate.ts";
import { compileCrl, crlCharge, decodeHere, type CompiledCrl, type CrlDecoder } from "./lib/crl.ts";
import { KEY_POLICY } from "./lib/crypto-policy.ts";
import { sha256Hex } from "./lib/digest.ts";
import { chargeFor } from "./lib/load.ts";
import { TrustConfigError } from "./errors.ts";
import { parsePemCertificates, parsePemCrlBlocks } from "./pem.ts";
import { allowsClientAuth } from "./rules/extended-key-usage.ts";
import { compileAllowLists, type AllowLists } from "./rules/allow-lists.ts";
import { compileRequiredExtensions, type RequiredExtension } from "./rules/required-extensions.ts";
import type { OcspSettings, TrustSettings } from "./types.ts";

/** A configuration decoded once per version: verifyChain reads it and never parses PEM. */
export interface CompiledTrust {
  /** Unique per compilation; part of the verified-chain cache key. */
  readonly id: string;
  readonly chainMode: boolean;
  readonly anchors: readonly ParsedCertificate[];
  readonly anchorsBySubject: ReadonlyMap<string, ParsedCertificate[]>;
  readonly anchorFingerprints: ReadonlySet<string>;
  readonly crls: readonly CompiledCrl[];
  readonly crlsByIssuer: ReadonlyMap<string, CompiledCrl[]>;
  /** The fetched CRLs (crlUrls and distribution points) by URL. */
  readonly crlsByUrl: ReadonlyMap<string, CompiledCrl>;
  /** The soonest nextUpdate of the uploaded `crls`, or null. */
  readonly uploadedCrlsNextUpdate: Date | null;
  /** useCrlDistributionPoints. */
  readonly distributionPoints: boolean;
  readonly allowLists: AllowLists;
  /** requiredExtensions, or null. */
  readonly requiredExtensions: readonly RequiredExtension[] | null;
  /** OCSP at login, or null. */
  readonly ocsp: OcspSettings | null;
  /** What the anchors and CRLs hold on to, as the TrustCache charges it (verified chains have their own budget). */
  readonly retainedBytes: number;
}

function group<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

/**
 * The crypto policy for a configuration being attached or updated: a configured CA with a weak key, or a
 * configured CRL signed with MD5 or SHA-1, is refused with a sentence for the admin. Logins do not compile
 * with it, so a configuration stored before the policy refuses its logins with weak_key or
 * weak_signature_algorithm instead of failing to load.
 */
export function assertCryptoPolicy(trust: CompiledTrust): void {
  for (const ca of trust.anchors) {
    if (ca.weakKey) throw new TrustConfigError(`The CA certificate "${ca.subject}" has ${ca.weakKey}; ${KEY_POLICY}.`);
  }
  for (const crl of trust.crls) {
    if (crl.weakSignature) {
      throw new TrustConfigError(`${crl.name} is signed with ${crl.weakSignature}; certauth does not accept MD5 or SHA-1 signatures.`);
    }
  }
}

/**
 * Decodes and checks a TLS cert auth configuration; throws TrustConfigError with a sentence for the admin.
 * `decode` is how CRL bytes are decoded (the service's decoder caches by content and decodes large ones off the event loop).
 */
export async function compileTrust(settings: TrustSettings, decode: CrlDecoder = decodeHere): Promise<CompiledTrust> {
  if (typeof settings?.caCertificate !== "string") throw new TrustConfigError("The CA certificate is required.");
  const anchors: ParsedCertificate[] = [];
  const seen = new Set<string>();
  let position = 0;
  for (const der of parsePemCertificates(settings.caCertificate)) {
    position++;
    const fingerprint = await sha256Hex(der);
    if (seen.has(fingerprint)) continue;
    seen.add(fingerprint);
    let ca: ParsedCertificate | null = null;
    try {
      ca = parseCertificate(der, fingerprint);
    } catch {}
    if (!ca || !fullyDecoded(ca)) {
      throw new TrustConfigError(`Certificate #${position} of the CA certificate PEM could not be decoded as X.509.`);
    }
    if (!allowsClientAuth(ca)) {
      throw new TrustConfigError(
        `The CA certificate "${ca.subject}" has an extended key usage without clientAuth, so it cannot vouch for client certificates.`,
      );
    }
    const unprocessed = ca.unprocessedCriticalExtensions[0];
    if (unprocessed) {
      throw new TrustConfigError(
        `The CA certificate "${ca.subject}" has a critical extension (${unprocessed}) that certauth does not process, so no login could pass it.`,
      );
    }
    anchors.push(ca);
  }
  const anchorsBySubject = group(anchors, (a) => a.subjectKey);

  const crls: CompiledCrl[] = [];
  if (settings.crls != null && settings.crls.trim() !== "") {
    const blocks = parsePemCrlBlocks(settings.crls);
    for (let i = 0; i < blocks.length; i++) crls.push(await compileCrl(blocks[i]!, `CRL #${i + 1}`, anchorsBySubject, decode));
  }
  const uploadedCrlsNextUpdate = crls.reduce<Date | null>((soonest, c) => (c.nextUpdate && (!soonest || c.nextUpdate < soonest) ? c.nextUpdate : soonest), null);
  // A CRL fetched from a URL goes through exactly the checks of an uploaded one.
  const crlsByUrl = new Map<string, CompiledCrl>();
  for (const fetched of settings.fetchedCrls ?? []) {
    const crl = await compileCrl(fetched.der, `CRL ${fetched.url}`, anchorsBySubject, decode);
    crls.push(crl);
    crlsByUrl.set(fetched.url, crl);
  }

  return {
    id: crypto.randomUUID(),
    chainMode: settings.verifyClientCertificateChain === true,
    anchors,
    anchorsBySubject,
    anchorFingerprints: seen,
    crls,
    crlsByIssuer: group(crls, (c) => c.issuerKey),
    crlsByUrl,
    uploadedCrlsNextUpdate,
    distributionPoints: settings.useCrlDistributionPoints === true,
    allowLists: compileAllowLists(settings),
    requiredExtensions: compileRequiredExtensions(settings.requiredExtensions),
    ocsp: settings.ocsp ?? null,
    retainedBytes: anchors.reduce((sum, a) => sum + chargeFor(a.der), 0) + crls.reduce((sum, c) => sum + crlCharge(c), 0),
  };
}

