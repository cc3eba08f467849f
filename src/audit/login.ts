import type { Db } from "../db/client.ts";
import { auditLogs } from "../db/schema.ts";
import { fingerprintLeaf, type LeafSummary } from "../pki/index.ts";
import type { ReasonCode } from "../reasons.ts";
import { LOGIN_FAILED } from "./events.ts";

/** What the audit event of a failed login records, known as far as the attempt got. */
export interface FailedLogin {
  identityId: string | null;
  orgId: string | null;
  /** The presented leaf's DER, fingerprinted when it was refused before being decoded. */
  leafDer: Uint8Array | null;
  leaf: LeafSummary | null;
  clientIp: string;
  reasonCode: ReasonCode | null;
}

/** A successful login's event is written with its token, in one statement (tokens/issued-record.ts). */
export async function recordFailedLogin(db: Db, failure: FailedLogin): Promise<void> {
  const fingerprint = failure.leaf?.fingerprint ?? (failure.leafDer ? await fingerprintLeaf(failure.leafDer) : null);
  await db.insert(auditLogs).values({
    eventType: LOGIN_FAILED,
    identityId: failure.identityId,
    orgId: failure.orgId,
    reasonCode: failure.reasonCode,
    certificateFingerprint: fingerprint,
    certificateSubject: failure.leaf?.subject ?? null,
    clientIp: failure.clientIp,
  });
}
