/** Reason codes a certificate check can refuse with; the login route returns them in `x-certauth-reason`. */
export type ReasonCode =
  | "ca_verification_failed"
  | "ca_certificate_not_allowed"
  | "certificate_expired"
  | "certificate_not_yet_valid"
  | "issuer_certificate_expired"
  | "issuer_certificate_not_yet_valid"
  | "client_auth_usage_not_allowed"
  | "issuer_client_auth_usage_not_allowed"
  | "path_length_exceeded"
  | "name_constraint_violation"
  | "certificate_revoked"
  | "crl_expired"
  | "weak_signature_algorithm"
  | "weak_key"
  | "common_name_not_allowed"
  | "subject_alt_name_not_allowed"
  | "organization_not_allowed"
  | "organizational_unit_not_allowed";

/** The TLS cert auth settings the engine judges a chain against (the stored configuration's fields). */
export interface TrustSettings {
  caCertificate: string;
  crls: string | null;
  verifyClientCertificateChain: boolean;
  allowedCommonNames: string | null;
  allowedSubjectAltNames: string[] | null;
  allowedOrganizations: string[] | null;
  allowedOrganizationalUnits: string[] | null;
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
  | { ok: false; reason: ReasonCode; message: string; leaf: LeafSummary }
  /** The leaf itself could not be decoded: the request carried no usable certificate. */
  | { ok: false; reason: "bad_certificate"; message: string; leaf: null };

/** Why a rule refused: the reason code the API returns and a sentence for humans. */
export interface Refusal {
  reason: ReasonCode;
  message: string;
}

/** A rule's answer: null to pass, or the refusal. */
export type RuleResult = Refusal | null;
