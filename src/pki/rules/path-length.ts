import type { ParsedCertificate } from "../lib/certificate.ts";
import type { RuleResult } from "../types.ts";

/**
 * RFC 5280 pathLenConstraint: the number of non-self-issued intermediates between a CA and the leaf
 * may not exceed that CA's pathLen. `path` is leaf first, trust anchor last; the anchor is checked too.
 */
export function checkPathLength(path: readonly ParsedCertificate[]): RuleResult {
  let intermediatesBelow = 0;
  for (let i = 1; i < path.length; i++) {
    const ca = path[i]!;
    const limit = ca.basicConstraints?.pathLength;
    if (limit !== undefined && intermediatesBelow > limit) {
      return {
        reason: "path_length_exceeded",
        message: `The CA certificate "${ca.subject}" allows ${limit} intermediate CA(s) below it, the chain has ${intermediatesBelow}.`,
      };
    }
    if (!ca.selfIssued) intermediatesBelow++;
  }
  return null;
}
