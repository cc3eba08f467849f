import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  BasicOCSPResponse,
  CertID,
  id_kp_OCSPSigning,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request,
  ResponderID,
  TBSRequest,
} from "@peculiar/asn1-ocsp";
import { AlgorithmIdentifier, Certificate, Extension } from "@peculiar/asn1-x509";
import type { ParsedCertificate } from "../pki/lib/certificate.ts";
import { ByteBudgetCache } from "../pki/index.ts";
import type { Config } from "../config.ts";
import type { OcspAnswer, OcspLookup, OcspSettings } from "../pki/types.ts";
import * as x509 from "../pki/x509.ts";
import { Metrics } from "../metrics/registry.ts";
import type { AllowedHosts } from "../net/allowed-hosts.ts";
import { fetchRevocationUrl } from "./fetch.ts";

/** An OCSP answer is a few KiB at most; a bigger body is refused. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** One request, connection to last byte. */
const REQUEST_TIMEOUT_MS = 2_000;
/** The most a login waits for OCSP, all certificates, responders and retries together. */
export const OCSP_LOGIN_BUDGET_MS = 5_000;
/** The first retry's back-off; each further one doubles it. */
const FIRST_BACKOFF_MS = 50;
/** thisUpdate may be this far in the future, nextUpdate this far in the past (clocks differ). */
const CLOCK_SKEW_MS = 5 * 60_000;
/**
 * What cached answers may take, the least recently used going first. An entry keeps the parsed status and times,
 * never the answer's bytes, and is charged its key (issuer, serial, responder URL: 2 bytes a character, as a URL
 * from a certificate's AIA has no set length) and a fixed overhead. About 16,000 answers with 200-character keys.
 */
const CACHE_BYTES = 8 * 1024 * 1024;
/** The parsed answer (a status and two times) and its map slot, besides the key. */
const ENTRY_OVERHEAD_BYTES = 100;
const SHA1 = "1.3.14.3.2.26";

interface Cached {
  status: "good" | "revoked" | "unknown";
  thisUpdate: number;
  nextUpdate: number;
}

class Unavailable extends Error {}

/**
 * Asks OCSP responders about one certificate (RFC 6960, by HTTP GET under the outbound rules), checks the
 * answer (issuer or delegated signer, nonce, times) and caches it until its nextUpdate, so a cached login
 * does no network I/O.
 */
export class OcspClient {
  readonly #cache: ByteBudgetCache<string, Cached>;

  constructor(
    private readonly allowed: AllowedHosts,
    private readonly metrics: Metrics = new Metrics(),
    cacheBytes = CACHE_BYTES,
  ) {
    this.#cache = new ByteBudgetCache(cacheBytes);
  }

  /** What the cached answers are charged now, at most the budget. */
  get cachedBytes(): number {
    return this.#cache.bytes;
  }

  async status(cert: ParsedCertificate, issuer: ParsedCertificate, settings: OcspSettings, now: Date, deadline: number): Promise<OcspAnswer> {
    const servers = settings.serversOverride ?? ocspUrlsOf(cert);
    if (!servers.length) return { status: "unavailable", message: `The certificate "${cert.subject}" names no OCSP responder.` };
    const answers: OcspAnswer[] = [];
    for (const url of servers) {
      const answer = await this.#ask(url, cert, issuer, settings, now, deadline);
      if (answer.status === "revoked") return answer;
      if (answer.status === "good" && !settings.queryAllServers) return answer;
      answers.push(answer);
    }
    return answers.find((a) => a.status === "good") ?? answers.find((a) => a.status === "unknown") ?? answers[0]!;
  }

  async #ask(url: string, cert: ParsedCertificate, issuer: ParsedCertificate, settings: OcspSettings, now: Date, deadline: number): Promise<OcspAnswer> {
    const key = `${issuer.fingerprint} ${cert.serial} ${url}`;
    const cached = this.#cache.get(key);
    if (cached && cached.nextUpdate > now.getTime() && fresh(cached.thisUpdate, settings, now)) return this.#used(cached, cert, url, now);
    if (cached) this.#cache.delete(key);
    // Two digests and a serialization: only when the network is asked.
    const certId = await certIdOf(cert, issuer);
    let lastError = "no answer";
    for (let attempt = 0; attempt <= settings.maxRetries; attempt++) {
      if (attempt > 0) {
        const backoff = FIRST_BACKOFF_MS * 2 ** (attempt - 1);
        if (Date.now() + backoff >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, backoff));
      }
      const timeoutMs = Math.min(REQUEST_TIMEOUT_MS, deadline - Date.now());
      if (timeoutMs <= 0) break;
      try {
        const found = await this.#query(url, certId, issuer, settings, now, timeoutMs);
        this.metrics.revocationFetches.inc("ocsp", "ok");
        if (found.nextUpdate > 0) this.#remember(key, { status: found.status, thisUpdate: found.thisUpdate, nextUpdate: found.nextUpdate });
        return this.#used(found, cert, url, now);
      } catch (err) {
        this.metrics.revocationFetches.inc("ocsp", "failed");
        lastError = (err as Error).message;
        // A signed answer that fails a check will not pass on a retry.
        if (err instanceof Unavailable) break;
      }
    }
    return { status: "unavailable", message: `The OCSP responder ${url} gave no usable answer about "${cert.subject}": ${lastError}.` };
  }

  async #query(url: string, certId: CertID, issuer: ParsedCertificate, settings: OcspSettings, now: Date, timeoutMs: number) {
    const nonce = crypto.getRandomValues(new Uint8Array(16));
    const nonceValue = AsnConvert.serialize(new OctetString(nonce));
    const request = new OCSPRequest({
      tbsRequest: new TBSRequest({
        requestList: [new Request({ reqCert: certId })],
        requestExtensions: [new Extension({ extnID: id_pkix_ocsp_nonce, extnValue: new OctetString(nonceValue) })],
      }),
    });
    // RFC 6960 appendix A.1: GET with the base64 request, URL-encoded, after the responder's URL.
    const encoded = encodeURIComponent(Buffer.from(AsnConvert.serialize(request)).toString("base64"));
    const result = await fetchRevocationUrl(`${url.replace(/\/$/, "")}/${encoded}`, this.allowed, {}, { maxBytes: MAX_RESPONSE_BYTES, timeoutMs });
    if (result.status !== 200) throw new Error(`HTTP ${result.status}`);
    return checkResponse(result.body, certId, issuer, new Uint8Array(nonceValue), settings, now);
  }

  #used(found: { status: Cached["status"]; thisUpdate: number }, cert: ParsedCertificate, url: string, now: Date): OcspAnswer {
    this.metrics.ocspAnswerAge.observe(Math.max(0, (now.getTime() - found.thisUpdate) / 1000));
    return toAnswer(found, cert, url);
  }

  #remember(key: string, entry: Cached) {
    this.#cache.set(key, entry, 2 * key.length + ENTRY_OVERHEAD_BYTES);
  }
}

const toAnswer = (found: { status: Cached["status"]; thisUpdate: number }, cert: ParsedCertificate, url: string): OcspAnswer =>
  found.status === "good"
    ? { status: "good", thisUpdate: new Date(found.thisUpdate) }
    : {
        status: found.status,
        thisUpdate: new Date(found.thisUpdate),
        message:
          found.status === "revoked"
            ? `The OCSP responder ${url} says the certificate "${cert.subject}" (serial ${cert.serial}) is revoked.`
            : `The OCSP responder ${url} does not know the certificate "${cert.subject}" (serial ${cert.serial}).`,
      };

const fresh = (thisUpdate: number, settings: OcspSettings, now: Date) =>
  settings.thisUpdateMaxAge === 0 || now.getTime() - thisUpdate <= settings.thisUpdateMaxAge * 1000;

/** The AIA's OCSP URLs (http and https only). */
function ocspUrlsOf(cert: ParsedCertificate): string[] {
  const aia = cert.x509.getExtension(x509.AuthorityInfoAccessExtension);
  return (aia?.ocsp ?? []).flatMap((name) => (name.type === "url" && /^https?:\/\//i.test(name.value) ? [name.value] : []));
}

const sha1 = (data: BufferSource) => crypto.subtle.digest("SHA-1", data);
const parsedCerts = new WeakMap<ParsedCertificate, Certificate>();
const asnOf = (cert: ParsedCertificate) => {
  let asn = parsedCerts.get(cert);
  if (!asn) parsedCerts.set(cert, (asn = AsnConvert.parse(cert.der, Certificate)));
  return asn;
};

/** CertID by SHA-1, as responders universally accept (RFC 5019). */
async function certIdOf(cert: ParsedCertificate, issuer: ParsedCertificate): Promise<CertID> {
  const issuerAsn = asnOf(issuer).tbsCertificate;
  return new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: SHA1, parameters: null }),
    issuerNameHash: new OctetString(await sha1(AsnConvert.serialize(issuerAsn.subject))),
    issuerKeyHash: new OctetString(await sha1(issuerAsn.subjectPublicKeyInfo.subjectPublicKey)),
    serialNumber: asnOf(cert).tbsCertificate.serialNumber,
  });
}

async function checkResponse(
  body: Uint8Array<ArrayBuffer>,
  certId: CertID,
  issuer: ParsedCertificate,
  nonce: Uint8Array,
  settings: OcspSettings,
  now: Date,
): Promise<Cached> {
  let response: OCSPResponse;
  let basic: BasicOCSPResponse;
  try {
    response = AsnConvert.parse(body, OCSPResponse);
    if (response.responseStatus !== OCSPResponseStatus.successful) throw new Unavailable(`the responder answered status ${response.responseStatus}`);
    if (response.responseBytes?.responseType !== id_pkix_ocsp_basic) throw new Unavailable("the answer is not a basic OCSP response");
    basic = AsnConvert.parse(response.responseBytes.response, BasicOCSPResponse);
  } catch (err) {
    if (err instanceof Unavailable) throw err;
    throw new Unavailable("the answer is not an OCSP response");
  }
  const signer = await signerOf(basic, issuer, now);
  if (!signer) {
    throw new Unavailable("the answer is signed neither by the issuer nor by a responder the issuer delegated with id-kp-OCSPSigning");
  }
  const data = basic.tbsResponseData;
  if (!(await namesSigner(data.responderID, signer))) throw new Unavailable("the answer's ResponderID does not name the certificate whose key signed it");
  const answeredNonce = data.responseExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
  if (answeredNonce && !sameBytes(new Uint8Array(answeredNonce.extnValue.buffer), nonce)) throw new Unavailable("the answer's nonce is not the request's");
  const single = data.responses.find((r) => sameBytes(new Uint8Array(AsnConvert.serialize(r.certID)), new Uint8Array(AsnConvert.serialize(certId))));
  if (!single) throw new Unavailable("the answer is not about this certificate");
  const at = now.getTime();
  const thisUpdate = single.thisUpdate.getTime();
  const nextUpdate = single.nextUpdate?.getTime() ?? null;
  if (thisUpdate > at + CLOCK_SKEW_MS) throw new Unavailable(`its thisUpdate ${single.thisUpdate.toISOString()} is in the future`);
  if (nextUpdate !== null && nextUpdate < at - CLOCK_SKEW_MS) throw new Unavailable(`its nextUpdate ${single.nextUpdate!.toISOString()} has passed`);
  if (!fresh(thisUpdate, settings, now)) throw new Unavailable(`its thisUpdate is older than ocspThisUpdateMaxAge (${settings.thisUpdateMaxAge} s)`);
  const status = single.certStatus.good !== undefined ? "good" : single.certStatus.revoked ? "revoked" : "unknown";
  // 0: no nextUpdate, so not cached.
  return { status, thisUpdate, nextUpdate: nextUpdate ?? 0 };
}

/**
 * RFC 6960 §4.2.2.2: the certificate whose key signed the answer: the issuer, or one in the answer that the issuer
 * signed for id-kp-OCSPSigning.
 */
async function signerOf(basic: BasicOCSPResponse, issuer: ParsedCertificate, now: Date): Promise<Certificate | null> {
  if (await verifies(basic, issuer.x509.publicKey)) return asnOf(issuer);
  for (const asn of basic.certs ?? []) {
    const delegate = new x509.X509Certificate(AsnConvert.serialize(asn));
    const eku = delegate.getExtension(x509.ExtendedKeyUsageExtension);
    if (!eku?.usages.includes(id_kp_OCSPSigning)) continue;
    if (delegate.notBefore.getTime() > now.getTime() || delegate.notAfter.getTime() < now.getTime()) continue;
    if (!(await delegate.verify({ publicKey: issuer.x509.publicKey, signatureOnly: true }).catch(() => false))) continue;
    if (await verifies(basic, delegate.publicKey)) return asn;
  }
  return null;
}

/** RFC 6960 §4.2.1: the ResponderID is the signer's subject, or the SHA-1 of its subjectPublicKey BIT STRING's value. */
async function namesSigner(id: ResponderID, signer: Certificate): Promise<boolean> {
  const tbs = signer.tbsCertificate;
  if (id.byName) return sameBytes(new Uint8Array(AsnConvert.serialize(id.byName)), new Uint8Array(AsnConvert.serialize(tbs.subject)));
  if (id.byKey) return sameBytes(new Uint8Array(id.byKey.buffer), new Uint8Array(await sha1(tbs.subjectPublicKeyInfo.subjectPublicKey)));
  return false;
}

async function verifies(basic: BasicOCSPResponse, publicKey: x509.PublicKey): Promise<boolean> {
  try {
    const provider = new x509.AlgorithmProvider();
    const signatureAlgorithm = provider.toWebAlgorithm(basic.signatureAlgorithm);
    const key = await publicKey.export({ ...publicKey.algorithm, ...signatureAlgorithm }, ["verify"]);
    const algorithm = { ...key.algorithm, ...signatureAlgorithm } as Algorithm;
    const signature = new x509.AsnEcSignatureFormatter().toWebSignature(algorithm, basic.signature) ?? basic.signature;
    return await crypto.subtle.verify(algorithm, key, signature, basic.tbsResponseDataRaw!);
  } catch {
    return false;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** The OCSP lookup a configuration describes, counting its requests in certauth_revocation_fetches_total{kind="ocsp"}. */
export function ocspLookupFor(config: Config, metrics: Metrics): OcspLookup {
  const client = new OcspClient(config.REVOCATION_FETCH_ALLOWED_HOSTS, metrics);
  return (cert, issuer, settings, now, deadline) => client.status(cert, issuer, settings, now, deadline);
}
