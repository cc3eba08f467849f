/**
 * Every reason code the API answers (PRODUCT §2.1, §2.4): the `x-certauth-reason` header, the audit record's
 * `reasonCode` and the metrics' `reason` label. Grep a code to find the check that refuses with it.
 */
export type ReasonCode = CertificateReason | MembershipReason | TokenReason;

/** A certificate check refused the presented chain (one rule per file in src/pki/rules/); the login answers 401. */
export type CertificateReason =
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
  | "revocation_status_unavailable"
  | "weak_signature_algorithm"
  | "weak_key"
  | "required_extension_missing"
  | "common_name_not_allowed"
  | "subject_alt_name_not_allowed"
  | "organization_not_allowed"
  | "organizational_unit_not_allowed";

/** The login asked for a sub-organization the identity is not a member of (401). */
export type MembershipReason = "sub_org_unauthorized";

/** A use of an access token was refused (src/tokens/checks.ts): 401, except ip_not_trusted, 403. */
export type TokenReason =
  | "invalid_token"
  | "token_expired"
  | "token_revoked"
  | "identity_not_found"
  | "ip_not_trusted"
  | "uses_exhausted"
  | "certificate_mismatch"
  | "max_ttl_reached";
