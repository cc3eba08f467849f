import { isSignedBy, type ParsedCertificate } from "./lib/certificate.ts";
import type { CompiledTrust } from "./compile.ts";

/** Most intermediates between the leaf and a trust anchor. */
export const MAX_INTERMEDIATES = 8;
/** Presented certificates (after the leaf) considered at all; the rest are ignored. */
export const MAX_PRESENTED = 32;
/** Candidate paths collected, so that a later rule can prefer one that passes. */
export const MAX_PATHS = 16;
/** Signature checks per path search, bounding the work an adversarial bundle can cause. */
export const MAX_SIGNATURE_CHECKS = 96;

/**
 * Every signature-verified path from the leaf to a trust anchor (leaf first, anchor last), shortest and
 * earliest-presented first. Direct mode: only leaf → configured CA. Chain mode: leaf → presented
 * intermediates in any order (duplicates, copies of an anchor and the leaf itself dropped; no certificate
 * twice in one path) → configured CA.
 */
export async function findPaths(
  trust: CompiledTrust,
  leaf: ParsedCertificate,
  presented: readonly ParsedCertificate[],
): Promise<ParsedCertificate[][]> {
  const checks = new Map<string, Promise<boolean>>();
  let budget = MAX_SIGNATURE_CHECKS;
  const signed = (child: ParsedCertificate, issuer: ParsedCertificate): Promise<boolean> => {
    const key = `${child.fingerprint}>${issuer.fingerprint}`;
    let result = checks.get(key);
    if (!result) {
      if (budget-- <= 0) return Promise.resolve(false);
      result = isSignedBy(child, issuer);
      checks.set(key, result);
    }
    return result;
  };

  const paths: ParsedCertificate[][] = [];
  if (!trust.chainMode) {
    for (const anchor of trust.anchorsBySubject.get(leaf.issuerKey) ?? []) {
      if (await signed(leaf, anchor)) paths.push([leaf, anchor]);
    }
    return paths;
  }

  const pool: ParsedCertificate[] = [];
  const skip = new Set<string>([leaf.fingerprint, ...trust.anchorFingerprints]);
  for (const cert of presented.slice(0, MAX_PRESENTED)) {
    if (skip.has(cert.fingerprint)) continue;
    skip.add(cert.fingerprint);
    pool.push(cert);
  }

  const extend = async (path: ParsedCertificate[]): Promise<void> => {
    const current = path[path.length - 1]!;
    for (const anchor of trust.anchorsBySubject.get(current.issuerKey) ?? []) {
      if (paths.length >= MAX_PATHS) return;
      if (await signed(current, anchor)) paths.push([...path, anchor]);
    }
    if (path.length - 1 >= MAX_INTERMEDIATES) return;
    for (const next of pool) {
      if (paths.length >= MAX_PATHS) return;
      if (next.subjectKey !== current.issuerKey || path.includes(next)) continue;
      if (await signed(current, next)) await extend([...path, next]);
    }
  };
  await extend([leaf]);
  return paths.sort((a, b) => a.length - b.length);
}
