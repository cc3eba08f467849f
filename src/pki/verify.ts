import { fullyDecoded, type ParsedCertificate } from "./lib/certificate.ts";
import { loadCertificate, type LoadedCertificate } from "./lib/load.ts";
import { leafTooLarge, withinLimits } from "./limits.ts";
import type { CompiledTrust } from "./compile.ts";
import { findPaths, MAX_PRESENTED } from "./path.ts";
import { refusedChains } from "./refused-chain-cache.ts";
import { checkCommonName, checkOrganization, checkOrganizationalUnit, checkSubjectAltNames } from "./rules/allow-lists.ts";
import { checkLeafIsNotCa } from "./rules/ca-certificate-not-allowed.ts";
import { checkCaConstraints } from "./rules/ca-constraints.ts";
import { checkCriticalExtensions } from "./rules/critical-extensions.ts";
import { distributionPointCrls } from "./rules/distribution-points.ts";
import { checkIssuerExtendedKeyUsage, checkLeafExtendedKeyUsage } from "./rules/extended-key-usage.ts";
import { checkNameConstraints } from "./rules/name-constraints.ts";
import { checkPathLength } from "./rules/path-length.ts";
import { checkRequiredExtensions } from "./rules/required-extensions.ts";
import { checkOcsp } from "./rules/ocsp.ts";
import { checkRevocation } from "./rules/revocation.ts";
import { checkIssuerValidity, checkLeafValidity } from "./rules/validity.ts";
import { checkKeys } from "./rules/weak-key.ts";
import { checkSignatureAlgorithms } from "./rules/weak-signature-algorithm.ts";
import type { CompiledCrl } from "./lib/crl.ts";
import type { DistributionPointCrls, LeafSummary, OcspLookup, RuleResult, Verdict } from "./types.ts";
import { VerifiedChainCache, verifiedChains } from "./verified-chain-cache.ts";

/**
 * Judges a presented chain (leaf first, then whatever intermediates the client sent) against a compiled
 * configuration. Never throws: anything unexpected is a refusal. Checks run in the contract's order:
 * leaf decoding, ca_certificate_not_allowed, leaf validity, leaf EKU, path (ca_verification_failed),
 * unprocessed critical extensions, issuer validity, issuer EKU, path length, name constraints, CRLs (with
 * useCrlDistributionPoints, those of the path's distribution points, fetched through `network.crls` when the
 * configuration holds none yet), weak signature algorithms (certificates below the anchor, CRLs used), weak keys,
 * required extensions, allow-lists, and last, with `network.ocsp` given and the configuration's OCSP on, OCSP about the path that
 * passed. Those two lookups are the only network I/O, both by `network.deadline`.
 */
export async function verifyChain(trust: CompiledTrust, chainDer: Uint8Array[], now: Date): Promise<Verdict> {
  const leafDer = chainDer[0];
  const tooLarge = leafDer ? leafTooLarge(leafDer) : null;
  if (tooLarge) return { ok: false, reason: "bad_certificate", message: tooLarge, leaf: null };
  let loaded: LoadedCertificate | null;
  try {
    loaded = leafDer ? await loadCertificate(leafDer) : null;
  } catch {
    loaded = null;
  }
  if (!loaded?.certificate) return undecodable();
  return verifyDecoded(trust, loaded.certificate, chainDer, now);
}

/** verifyChain for a leaf the caller has decoded already (`chainDer` still leaf first). */
export async function verifyDecoded(
  trust: CompiledTrust,
  leaf: ParsedCertificate,
  chainDer: Uint8Array[],
  now: Date,
  network?: Network,
): Promise<Verdict> {
  if (!fullyDecoded(leaf)) return undecodable();
  const leafSummary: LeafSummary = { fingerprint: leaf.fingerprint, subject: leaf.subject };
  try {
    const refusal = await judge(trust, leaf, withinLimits(chainDer).slice(1), now, network);
    return refusal ? { ok: false, ...refusal, leaf: leafSummary } : { ok: true, leaf: leafSummary };
  } catch {
    return { ok: false, reason: "ca_verification_failed", message: "The certificate chain could not be verified.", leaf: leafSummary };
  }
}

/** What a login may ask over the network: OCSP, and CRLs of distribution points; each by its own deadline (epoch ms). */
export interface Network {
  ocsp?: { lookup: OcspLookup; deadline: number };
  crls?: { crls: DistributionPointCrls; deadline: number };
}

const undecodable = (): Verdict => ({ ok: false, reason: "bad_certificate", message: "The client certificate could not be decoded.", leaf: null });

async function judge(
  trust: CompiledTrust,
  leaf: ParsedCertificate,
  rest: Uint8Array[],
  now: Date,
  network?: Network,
): Promise<RuleResult> {
  const leafRefusal = checkLeafIsNotCa(leaf, trust.anchorFingerprints) ?? checkLeafValidity(leaf, now) ?? checkLeafExtendedKeyUsage(leaf);
  if (leafRefusal) return leafRefusal;

  const paths = await verifiedPaths(trust, leaf, rest, now);
  if (paths.length === 0) {
    return {
      reason: "ca_verification_failed",
      message: trust.chainMode
        ? "The certificate does not chain to a configured CA through the presented intermediates."
        : "The certificate is not issued by a configured CA.",
    };
  }

  let firstRefusal: RuleResult = null;
  let passed: readonly ParsedCertificate[] | null = null;
  for (const path of paths) {
    const refusal = await checkPath(trust, path, now, network?.crls);
    if (!refusal) {
      passed = path;
      break;
    }
    firstRefusal ??= refusal;
  }
  if (!passed) return firstRefusal;

  const allow = trust.allowLists;
  return (
    checkRequiredExtensions(leaf, trust.requiredExtensions) ??
    checkCommonName(leaf, allow.commonNames) ??
    checkSubjectAltNames(leaf, allow.subjectAltNames) ??
    checkOrganization(leaf, allow.organizations) ??
    checkOrganizationalUnit(leaf, allow.organizationalUnits) ??
    (trust.ocsp && network?.ocsp ? await checkOcsp(passed, trust.chainMode, trust.ocsp, network.ocsp.lookup, now, network.ocsp.deadline) : null)
  );
}

async function checkPath(trust: CompiledTrust, path: readonly ParsedCertificate[], now: Date, crls: Network["crls"]): Promise<RuleResult> {
  const refusal =
    checkCriticalExtensions(path) ??
    (trust.chainMode ? checkCaConstraints(path) : null) ??
    checkIssuerValidity(path, now) ??
    checkIssuerExtendedKeyUsage(path) ??
    checkPathLength(path) ??
    checkNameConstraints(path);
  if (refusal) return refusal;
  let crlsByIssuer = trust.crlsByIssuer;
  if (trust.distributionPoints) {
    const found = await distributionPointCrls(path, trust, crls);
    if ("reason" in found) return found;
    if (found.learned.length) crlsByIssuer = withCrls(crlsByIssuer, found.learned);
  }
  return (await checkRevocation(path, crlsByIssuer, now)) ?? checkSignatureAlgorithms(path) ?? checkKeys(path);
}

/** The configured CRLs by issuer, plus distribution point CRLs the compiled configuration does not hold yet. */
function withCrls(byIssuer: ReadonlyMap<string, CompiledCrl[]>, more: readonly CompiledCrl[]): ReadonlyMap<string, CompiledCrl[]> {
  const merged = new Map(byIssuer);
  for (const crl of more) merged.set(crl.issuerKey, [...(merged.get(crl.issuerKey) ?? []), crl]);
  return merged;
}

/** Paths from the verified-chain cache, none if the chain was refused lately, or built (signatures checked) and cached. */
async function verifiedPaths(trust: CompiledTrust, leaf: ParsedCertificate, rest: Uint8Array[], now: Date) {
  const loaded = trust.chainMode ? await Promise.all(rest.slice(0, MAX_PRESENTED).map(loadCertificate)) : [];
  const key = VerifiedChainCache.key(trust.id, [leaf.fingerprint, ...loaded.map((l) => l.fingerprint)]);
  const cached = verifiedChains.get(key, now);
  if (cached) return cached;
  if (refusedChains.has(key, now)) return [];
  const presented = loaded.flatMap((l) => (l.certificate ? [l.certificate] : []));
  const paths = await findPaths(trust, leaf, presented);
  if (paths.length) verifiedChains.set(key, paths, expiry(trust, paths));
  else refusedChains.add(key, now);
  return paths;
}

function expiry(trust: CompiledTrust, paths: ParsedCertificate[][]): number {
  let earliest = Infinity;
  for (const cert of paths.flat()) {
    earliest = Math.min(earliest, cert.notAfter.getTime());
    for (const crl of trust.crlsByIssuer.get(cert.issuerKey) ?? []) {
      if (crl.nextUpdate) earliest = Math.min(earliest, crl.nextUpdate.getTime());
    }
  }
  return earliest;
}
