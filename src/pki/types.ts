import type { CertificateReason } from "../reasons.ts";

/** What the engine judges a chain against: the trust fields of an identity's TLS cert auth settings. */
export interface TrustSettings {
  caCertificate: string;
  crls: string | null;
  /** The last good CRL fetched from each of `crlUrls`. */
  fetchedCrls?: readonly FetchedCrl[];
  verifyClientCertificateChain: boolean;
  allowedCommonNames: string | null;
  allowedSubjectAltNames: string[] | null;
  allowedOrganizations: string[] | null;
  allowedOrganizationalUnits: string[] | null;
}

/** A CRL's DER as last fetched from its URL. */
export interface FetchedCrl {
  url: string;
  der: Uint8Array<ArrayBuffer>;
}

/** What the audit log and tokens need to know about the presented leaf. */
export interface LeafSummary {
  /** SHA-256 of the leaf DER, lowercase hex. */
  fingerprint: string;
  /** RFC 4514-style subject, e.g. "CN=svc-a, O=Example". */
  subject: string;
}

export type Verdict =
  | { ok: true; leaf: LeafSummary }
  | { ok: false; reason: CertificateReason; message: string; leaf: LeafSummary }
  /** The leaf itself could not be decoded: the request carried no usable certificate. */
  | { ok: false; reason: "bad_certificate"; message: string; leaf: null };

/** Why a rule refused: the reason code the API returns and a sentence for humans. */
export interface Refusal {
  reason: CertificateReason;
  message: string;
}

/** A rule's answer: null to pass, or the refusal. */
export type RuleResult = Refusal | null;
