import { fullyDecoded, isSignedBy, type ParsedCertificate } from "./lib/certificate.ts";
import type { CompiledTrust } from "./compile.ts";

/** Most intermediates between the leaf and a trust anchor. */
export const MAX_INTERMEDIATES = 8;
/** Presented certificates (after the leaf) considered at all, the longest path's worth; the rest are ignored. */
export const MAX_PRESENTED = MAX_INTERMEDIATES;
/** Candidate paths collected, so that a later rule can prefer one that passes. */
export const MAX_PATHS = 16;
/** Presented issuers (distinct subject + key + issuer) tried for one certificate: a renewal or two beside the current one. */
export const MAX_CANDIDATE_ISSUERS = 3;
/** Copies of one subject + key + issuer tried in turn, so that a few corrupt copies cannot hide the good one. */
export const MAX_COPIES = 5;
/** Signature checks per path search: the expensive part of a step. */
export const MAX_SIGNATURE_CHECKS = 32;
/** Steps per path search (a partial path taken up, or a candidate issuer considered, cached signature or not). */
export const MAX_STEPS = 512;

/** The work one search did; `findPaths` never lets either count pass its budget. */
export interface PathStats {
  steps: number;
  signatureChecks: number;
}

/**
 * A path under construction: `certs` fixed so far, then `copies` of one subject + key + issuer whose copy is
 * chosen once the next issuer is known (the first copy its signature verifies under).
 */
interface Partial {
  certs: ParsedCertificate[];
  copies: readonly ParsedCertificate[];
  /** Subject + key of every certificate on it: a path never passes through the same CA twice. */
  identities: Set<string>;
}

/**
 * Every signature-verified path from the leaf to a trust anchor (leaf first, anchor last), shortest and
 * earliest-presented first, within MAX_STEPS and MAX_SIGNATURE_CHECKS whatever is presented. Direct mode:
 * only leaf → configured CA. Chain mode: leaf → presented intermediates in any order (duplicates, copies of an
 * anchor and the leaf itself dropped; no subject + key twice in one path) → configured CA.
 */
export async function findPaths(
  trust: CompiledTrust,
  leaf: ParsedCertificate,
  presented: readonly ParsedCertificate[],
  stats: PathStats = { steps: 0, signatureChecks: 0 },
): Promise<ParsedCertificate[][]> {
  const identity = (cert: ParsedCertificate) => `${cert.subjectKey}\n${cert.publicKeyId}`;
  const step = (): boolean => {
    if (stats.steps >= MAX_STEPS) return false;
    stats.steps++;
    return true;
  };

  // A signature depends on the issuer's key only: copies of one key (cross-signed or not) share the check.
  const checks = new Map<string, Promise<boolean>>();
  const signed = (child: ParsedCertificate, issuer: ParsedCertificate): Promise<boolean> => {
    const key = `${child.fingerprint}>${issuer.publicKeyId}`;
    let result = checks.get(key);
    if (!result) {
      if (stats.signatureChecks >= MAX_SIGNATURE_CHECKS) return Promise.resolve(false);
      stats.signatureChecks++;
      result = isSignedBy(child, issuer);
      checks.set(key, result);
    }
    return result;
  };

  const paths: ParsedCertificate[][] = [];
  if (!trust.chainMode) {
    for (const anchor of trust.anchorsBySubject.get(leaf.issuerKey) ?? []) {
      if (!step()) break;
      if (await signed(leaf, anchor)) paths.push([leaf, anchor]);
    }
    return paths;
  }

  // The copy of `copies` that `issuer`'s key signed, trying each in turn (a corrupt copy must not hide a good one).
  const signedCopy = async (copies: readonly ParsedCertificate[], issuer: ParsedCertificate) => {
    for (const copy of copies) {
      if (!step()) return undefined;
      if ((await signed(copy, issuer)) && fullyDecoded(copy)) return copy;
    }
    return undefined;
  };

  const bySubject = dedupe(leaf, presented.slice(0, MAX_PRESENTED), trust.anchorFingerprints);
  let frontier: Partial[] = [{ certs: [], copies: [leaf], identities: new Set([identity(leaf)]) }];
  // Breadth first, so that a budget spent on a hostile bundle is spent after the short paths were found.
  for (let depth = 0; frontier.length > 0; depth++) {
    const next: Partial[] = [];
    for (const partial of frontier) {
      if (!step()) return paths;
      const issuerKey = partial.copies[0]!.issuerKey;
      for (const anchor of trust.anchorsBySubject.get(issuerKey) ?? []) {
        if (paths.length >= MAX_PATHS) return paths;
        if (partial.identities.has(identity(anchor))) continue;
        const copy = await signedCopy(partial.copies, anchor);
        if (copy) paths.push([...partial.certs, copy, anchor]);
      }
      if (depth >= MAX_INTERMEDIATES) continue;
      for (const copies of (bySubject.get(issuerKey) ?? []).slice(0, MAX_CANDIDATE_ISSUERS)) {
        const id = identity(copies[0]!);
        if (partial.identities.has(id)) continue;
        const copy = await signedCopy(partial.copies, copies[0]!);
        if (copy) next.push({ certs: [...partial.certs, copy], copies, identities: new Set(partial.identities).add(id) });
      }
      if (stats.steps >= MAX_STEPS) return paths;
    }
    frontier = next;
  }
  return paths;
}

/**
 * Presented intermediates by subject, as groups of copies of one subject + key + issuer (the MAX_COPIES of
 * latest notAfter), in presentation order, without copies of the leaf or of an anchor.
 */
function dedupe(
  leaf: ParsedCertificate,
  presented: readonly ParsedCertificate[],
  anchorFingerprints: ReadonlySet<string>,
): Map<string, ParsedCertificate[][]> {
  const groups = new Map<string, ParsedCertificate[]>();
  const seen = new Set<string>();
  for (const cert of presented) {
    if (cert.fingerprint === leaf.fingerprint || anchorFingerprints.has(cert.fingerprint) || seen.has(cert.fingerprint)) continue;
    seen.add(cert.fingerprint);
    // The issuer is part of the key: a cross-signed intermediate shares subject and key with its sibling and chains elsewhere.
    const id = `${cert.subjectKey}\n${cert.publicKeyId}\n${cert.issuerKey}`;
    const copies = groups.get(id);
    if (copies) copies.push(cert);
    else groups.set(id, [cert]);
  }
  const bySubject = new Map<string, ParsedCertificate[][]>();
  for (const group of groups.values()) {
    const copies = group.sort((a, b) => b.notAfter.getTime() - a.notAfter.getTime()).slice(0, MAX_COPIES);
    const list = bySubject.get(copies[0]!.subjectKey);
    if (list) list.push(copies);
    else bySubject.set(copies[0]!.subjectKey, [copies]);
  }
  return bySubject;
}
