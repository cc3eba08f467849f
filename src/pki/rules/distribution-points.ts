import type { CompiledTrust } from "../compile.ts";
import type { ParsedCertificate } from "../lib/certificate.ts";
import { crlScopeMismatch, type CompiledCrl } from "../lib/crl.ts";
import { distributionPointUrls } from "../lib/distribution-points.ts";
import type { DistributionPointCrls, Refusal } from "../types.ts";
import { crlApplies } from "./revocation.ts";

/** Distribution point URLs one login looks at, stored or fetched, at most. */
export const MAX_URLS_PER_LOGIN = 8;

/**
 * useCrlDistributionPoints, on a path that verified to a configured anchor (so only the configured CAs decide the
 * URLs): each certificate below the anchor that names distribution points needs, from one of them, a CRL that
 * carries its issuer's name and that its issuer on this path signed: one stored with the configuration, or one
 * `crls` reads or fetches now. None → revocation_status_unavailable. Answers the CRLs found that the compiled
 * configuration does not hold yet, for checkRevocation to check with the others.
 */
export async function distributionPointCrls(
  path: readonly ParsedCertificate[],
  trust: CompiledTrust,
  lookup: { crls: DistributionPointCrls; deadline: number } | undefined,
): Promise<{ learned: CompiledCrl[] } | Refusal> {
  const learned: CompiledCrl[] = [];
  let looked = 0;
  for (let i = 0; i < path.length - 1; i++) {
    const cert = path[i]!;
    const issuer = path[i + 1]!;
    let why = "";
    let covered = false;
    for (const url of distributionPointUrls(cert)) {
      if (++looked > MAX_URLS_PER_LOGIN) {
        return unavailable(cert, `the path names more than ${MAX_URLS_PER_LOGIN} distribution point URLs`);
      }
      let crl = trust.crlsByUrl.get(url);
      if (!crl) {
        const found = lookup ? await lookup.crls.fetch(url, trust.anchorsBySubject, trust.id, lookup.deadline) : "no CRL is fetched here";
        if (typeof found === "string") {
          why = found;
          continue;
        }
        crl = found;
      }
      if (crl.issuerKey !== cert.issuerKey || (await crlApplies(crl, cert, issuer, i + 1 === path.length - 1)) !== true) {
        why = `the CRL at ${url} is not signed by "${issuer.subject}"`;
        continue;
      }
      // Whoever answers at the URL can serve any CRL the issuer signed: only a complete one for this certificate counts.
      const mismatch = crlScopeMismatch(crl, cert, url);
      if (mismatch) {
        why = `the CRL at ${url} does not cover the certificate: ${mismatch}`;
        continue;
      }
      if (!trust.crlsByUrl.has(url)) learned.push(crl);
      lookup?.crls.used(url);
      covered = true;
      break;
    }
    if (!covered && why) return unavailable(cert, why);
  }
  return { learned };
}

const unavailable = (cert: ParsedCertificate, why: string): Refusal => ({
  reason: "revocation_status_unavailable",
  message: `No CRL could be had from the distribution points of "${cert.subject}": ${why}.`,
});
