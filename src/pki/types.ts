import type { ParsedCertificate } from "./lib/certificate.ts";
import type { CompiledCrl } from "./lib/crl.ts";
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
  /** Vault-style "<oid>:<glob>" / "<oid>:hex:<glob>" entries the leaf must all match. */
  requiredExtensions?: string[] | null;
  /** OCSP at login, or null when ocspEnabled is false. */
  ocsp?: OcspSettings | null;
  /** Also check the CRLs named by the distribution points of the certificates on a verified path. */
  useCrlDistributionPoints?: boolean;
}

/** The OCSP fields of PRODUCT §2.2 a login needs. */
export interface OcspSettings {
  serversOverride: string[] | null;
  failOpen: boolean;
  queryAllServers: boolean;
  maxRetries: number;
  /** Seconds; 0 = no limit. */
  thisUpdateMaxAge: number;
}

/** What OCSP said about one certificate; `unavailable` when no responder gave a usable answer. */
export type OcspAnswer =
  | { status: "good"; thisUpdate: Date }
  | { status: "revoked" | "unknown"; thisUpdate: Date; message: string }
  | { status: "unavailable"; message: string };

/** Asks OCSP about `cert`, issued by `issuer`, answering by `deadline` (epoch ms); the network part of the OCSP rule. */
export type OcspLookup = (cert: ParsedCertificate, issuer: ParsedCertificate, settings: OcspSettings, now: Date, deadline: number) => Promise<OcspAnswer>;

/**
 * The CRL at a distribution point URL that the compiled configuration does not hold yet: read from storage or
 * fetched, compiled against `anchorsBySubject` (exactly like an uploaded CRL), by `deadline` (epoch ms); a
 * sentence when none could be had. `used` marks a stored one as needed by a login.
 */
export interface DistributionPointCrls {
  fetch(url: string, anchorsBySubject: ReadonlyMap<string, ParsedCertificate[]>, compilation: string, deadline: number): Promise<CompiledCrl | string>;
  used(url: string): void;
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
