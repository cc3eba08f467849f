import { describe, expect, it } from "bun:test";
import { Hono } from "hono";
import type { PeerInfo } from "../../src/http/peer.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import { AppError } from "../../src/errors.ts";
import type { AppEnv } from "../../src/http/env.ts";
import { clientCertificateChain, clientIp } from "../../src/http/client-cert.ts";
import { decodeForwardedCertificate, MAX_FORWARDED_CERTIFICATES } from "../../src/http/forwarded/index.ts";
import { makeCa, makeLeaf, type Issued } from "../fixtures/pki.ts";

const root = await makeCa({ subject: "CN=Forwarded Root" });
const inter = await makeCa({ subject: "CN=Forwarded Inter", issuer: root });
const leaf = await findLeafWithPlus();
const proxyCert = await makeLeaf({ issuer: root, cn: "proxy" });

const HEADER = "x-identity-tls-cert-auth-client-cert";
const PROXY = "10.0.0.5";
const CLIENT = "203.0.113.7";

/** A leaf whose base64 holds a '+', so that '+ stays +' is actually exercised. */
async function findLeafWithPlus(): Promise<Issued> {
  for (;;) {
    const candidate = await makeLeaf({ issuer: inter, cn: "svc-forwarded" });
    if (candidate.pem.includes("+")) return candidate;
  }
}

const b64 = (der: Uint8Array) => Buffer.from(der).toString("base64");
/** nginx $ssl_client_escaped_cert / ALB style: the PEM, percent-encoded, '+' '/' '=' left alone. */
const escapedPem = (...items: Issued[]) =>
  encodeURIComponent(items.map((i) => i.pem.trim()).join("\n") + "\n").replace(/%2B/g, "+").replace(/%2F/g, "/").replace(/%3D/g, "=");
const sameChain = (got: Uint8Array[] | null, ...want: Issued[]) => {
  expect(got).not.toBeNull();
  expect(got!.map(b64)).toEqual(want.map((w) => b64(w.der)));
};

function expect400(fn: () => unknown, message?: RegExp) {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AppError);
  expect((caught as AppError).statusCode).toBe(400);
  expect((caught as AppError).error).toBe("BadRequest");
  if (message) expect((caught as AppError).message).toMatch(message);
}

describe("decodeForwardedCertificate", () => {
  it("decodes URL-encoded PEM with the chain after the leaf, keeping '+' as '+'", () => {
    const value = escapedPem(leaf, inter);
    expect(value).toContain("+");
    sameChain(decodeForwardedCertificate(value), leaf, inter);
  });

  it("decodes a fully percent-encoded PEM (encodeURIComponent of everything)", () => {
    const value = encodeURIComponent(leaf.pem).replace(/-/g, "%2D");
    sameChain(decodeForwardedCertificate(value), leaf);
  });

  it("decodes RFC 9440 :base64-DER: and takes Client-Cert-Chain as the intermediates", () => {
    sameChain(decodeForwardedCertificate(`:${b64(leaf.der)}:`), leaf);
    sameChain(decodeForwardedCertificate(`:${b64(leaf.der)}:`, `:${b64(inter.der)}:, :${b64(root.der)}:`), leaf, inter, root);
  });

  it("decodes plain base64 DER", () => {
    sameChain(decodeForwardedCertificate(b64(leaf.der)), leaf);
  });

  it("decodes Envoy XFCC Cert and Chain, using the element the nearest proxy appended", () => {
    const element = (cert: Issued, chain?: Issued[]) =>
      `By=spiffe://example.org/ns/edge;Hash=abc;Cert="${encodeURIComponent(cert.pem)}"` +
      (chain ? `;Chain="${encodeURIComponent(chain.map((c) => c.pem).join(""))}"` : "") +
      `;Subject="CN=${cert.cert.subject},O=Acme";URI=spiffe://example.org/svc`;
    sameChain(decodeForwardedCertificate(element(leaf)), leaf);
    // Envoy's Chain includes the leaf; it is not repeated.
    sameChain(decodeForwardedCertificate(element(leaf, [leaf, inter])), leaf, inter);
    const spoofed = `Cert="${encodeURIComponent(proxyCert.pem)}"`;
    sameChain(decodeForwardedCertificate(`${spoofed},${element(leaf, [leaf, inter])}`), leaf, inter);
  });

  it("refuses several values of the header (duplicated headers joined by ', ')", () => {
    expect400(() => decodeForwardedCertificate(`${escapedPem(leaf)}, ${escapedPem(proxyCert)}`), /several values/);
    expect400(() => decodeForwardedCertificate(`${b64(leaf.der)}, ${b64(proxyCert.der)}`), /several values/);
    expect400(() => decodeForwardedCertificate(`:${b64(leaf.der)}:, :${b64(proxyCert.der)}:`), /several values/);
  });

  it("refuses bad encodings", () => {
    expect400(() => decodeForwardedCertificate("%E0%A4%A"), /could not be decoded/);
    expect400(() => decodeForwardedCertificate(`:${b64(leaf.der)}`), /could not be decoded/);
    expect400(() => decodeForwardedCertificate("not a certificate at all"));
    expect400(() => decodeForwardedCertificate("   "));
  });

  it("refuses base64 with bad padding, in plain, RFC 9440 and PEM form", () => {
    const unpadded = b64(leaf.der).replace(/=+$/, "");
    const broken = unpadded.length % 4 === 0 ? `${unpadded}=` : unpadded;
    expect400(() => decodeForwardedCertificate(broken), /could not be decoded/);
    expect400(() => decodeForwardedCertificate(`:${broken}:`), /could not be decoded/);
    const pem = `-----BEGIN CERTIFICATE-----\n${b64(leaf.der)}==\n-----END CERTIFICATE-----\n`;
    expect400(() => decodeForwardedCertificate(encodeURIComponent(pem)));
  });

  it("refuses a value with no PEM block and PEM blocks that are not certificates", () => {
    expect400(() => decodeForwardedCertificate(encodeURIComponent("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")));
    expect400(() => decodeForwardedCertificate(encodeURIComponent(leaf.keyPem)), /PRIVATE KEY/);
    expect400(() => decodeForwardedCertificate(encodeURIComponent(leaf.pem + leaf.keyPem)), /PRIVATE KEY/);
    const relabelled = leaf.keyPem.replace(/PRIVATE KEY/g, "CERTIFICATE");
    expect400(() => decodeForwardedCertificate(encodeURIComponent(relabelled)), /not an X\.509 certificate/);
  });

  it("refuses nested or stray BEGIN markers instead of picking the inner block", () => {
    expect400(() => decodeForwardedCertificate(encodeURIComponent(`-----BEGIN CERTIFICATE-----\n${leaf.pem}`)));
    expect400(() => decodeForwardedCertificate(encodeURIComponent(`${leaf.pem}-----END CERTIFICATE-----\n`)));
    const nested = leaf.pem.replace("-----BEGIN CERTIFICATE-----\n", `-----BEGIN CERTIFICATE-----\n${proxyCert.pem}`);
    expect400(() => decodeForwardedCertificate(encodeURIComponent(nested)));
  });

  it("refuses trailing bytes after the certificate's DER", () => {
    expect400(() => decodeForwardedCertificate(b64(new Uint8Array([...leaf.der, 0, 0]))), /trailing/);
  });

  it("bounds the work: values over 64 KiB and chains over 16 certificates are refused", () => {
    expect400(() => decodeForwardedCertificate("A".repeat(64 * 1024 + 4)), /64 KiB/);
    const many = Array.from({ length: MAX_FORWARDED_CERTIFICATES + 1 }, () => inter);
    expect400(() => decodeForwardedCertificate(escapedPem(leaf, ...many)), /more than 16/);
    expect400(() => decodeForwardedCertificate(`:${b64(leaf.der)}:`, many.map((c) => `:${b64(c.der)}:`).join(",")), /more than 16/);
  });
});

type Answer = { chain: string[] | null; ip: string } | { status: number; message: string };

function harness(env: Record<string, string>) {
  const config: Config = loadConfig({ DATABASE_URL: "memory://", ...env });
  const app = new Hono<AppEnv>();
  app.get("/", (c) => {
    try {
      return c.json({ chain: clientCertificateChain(c, config)?.map(b64) ?? null, ip: clientIp(c, config) });
    } catch (err) {
      if (err instanceof AppError) return c.json({ status: err.statusCode, message: err.message });
      throw err;
    }
  });
  return async (peer: PeerInfo, headers: Record<string, string> | [string, string][] = {}): Promise<Answer> => {
    const res = await app.fetch(new Request("https://certauth.test/", { headers }), { peer });
    return res.json() as Promise<Answer>;
  };
}

const viaProxy = (chain: Uint8Array[] = []): PeerInfo => ({ remoteAddress: PROXY, certificateChain: chain });
const direct = (chain: Uint8Array[] = []): PeerInfo => ({ remoteAddress: CLIENT, certificateChain: chain });

describe("clientCertificateChain", () => {
  it("takes the TLS peer chain under CLIENT_CERT_SOURCE=tls and never reads the header", async () => {
    const ask = harness({ TRUSTED_PROXIES: `${PROXY}/32` });
    expect(await ask(direct([leaf.der, inter.der]))).toEqual({ chain: [b64(leaf.der), b64(inter.der)], ip: CLIENT });
    expect(await ask(viaProxy(), { [HEADER]: escapedPem(leaf) })).toEqual({ chain: null, ip: PROXY });
    expect(await ask(viaProxy(), { [HEADER]: "garbage" })).toEqual({ chain: null, ip: PROXY });
  });

  it("answers null (no certificate) for an empty TLS chain", async () => {
    expect(await harness({})(direct([]))).toEqual({ chain: null, ip: CLIENT });
  });

  it("reads the header from a trusted proxy and ignores it, unparsed, from anyone else", async () => {
    const ask = harness({ CLIENT_CERT_SOURCE: "header", TRUSTED_PROXIES: `${PROXY}/32` });
    expect(await ask(viaProxy(), { [HEADER]: escapedPem(leaf, inter) })).toEqual({ chain: [b64(leaf.der), b64(inter.der)], ip: PROXY });
    expect(await ask(direct(), { [HEADER]: escapedPem(leaf) })).toEqual({ chain: null, ip: CLIENT });
    expect(await ask(direct(), { [HEADER]: "garbage" })).toEqual({ chain: null, ip: CLIENT });
    // Header mode ignores the TLS chain.
    expect(await ask(direct([leaf.der]))).toEqual({ chain: null, ip: CLIENT });
  });

  it("refuses an undecodable value from a trusted proxy with 400", async () => {
    const ask = harness({ CLIENT_CERT_SOURCE: "header", TRUSTED_PROXIES: `${PROXY}/32` });
    expect(await ask(viaProxy(), { [HEADER]: "%%%" })).toMatchObject({ status: 400 });
  });

  it("refuses the header sent twice by the trusted proxy with 400", async () => {
    const ask = harness({ CLIENT_CERT_SOURCE: "header", TRUSTED_PROXIES: `${PROXY}/32` });
    const twice: [string, string][] = [
      [HEADER, escapedPem(leaf)],
      [HEADER, escapedPem(proxyCert)],
    ];
    expect(await ask(viaProxy(), twice)).toMatchObject({ status: 400, message: expect.stringMatching(/several values/) });
  });

  it("under tls,header takes a trusted proxy's forwarded certificate and never the proxy's own TLS certificate", async () => {
    const ask = harness({ CLIENT_CERT_SOURCE: "tls,header", TRUSTED_PROXIES: `${PROXY}/32` });
    expect(await ask(viaProxy([proxyCert.der]), { [HEADER]: escapedPem(leaf) })).toMatchObject({ chain: [b64(leaf.der)] });
    expect(await ask(viaProxy([proxyCert.der]))).toMatchObject({ chain: null });
    expect(await ask(viaProxy([proxyCert.der]), { [HEADER]: " " })).toMatchObject({ chain: null });
    expect(await ask(direct([leaf.der]), { [HEADER]: escapedPem(proxyCert) })).toMatchObject({ chain: [b64(leaf.der)] });
  });

  it("under tls never takes a trusted proxy's own TLS certificate for its client's", async () => {
    const ask = harness({ TRUSTED_PROXIES: `${PROXY}/32` });
    expect(await ask(viaProxy([proxyCert.der]), { [HEADER]: escapedPem(leaf) })).toMatchObject({ chain: null });
  });

  it("reads Client-Cert-Chain only with CLIENT_CERT_HEADER=client-cert", async () => {
    const headers = { "client-cert": `:${b64(leaf.der)}:`, "client-cert-chain": `:${b64(inter.der)}:` };
    const rfc = harness({ CLIENT_CERT_SOURCE: "header", TRUSTED_PROXIES: PROXY, CLIENT_CERT_HEADER: "Client-Cert" });
    expect(await rfc(viaProxy(), headers)).toMatchObject({ chain: [b64(leaf.der), b64(inter.der)] });
    const other = harness({ CLIENT_CERT_SOURCE: "header", TRUSTED_PROXIES: PROXY });
    expect(await other(viaProxy(), { [HEADER]: headers["client-cert"], "client-cert-chain": headers["client-cert-chain"] })).toMatchObject({
      chain: [b64(leaf.der)],
    });
  });

  it("honours the IDENTITY_TLS_CERT_AUTH_CLIENT_CERTIFICATE_HEADER_KEY alias, case-insensitively", async () => {
    const ask = harness({
      CLIENT_CERT_SOURCE: "header",
      TRUSTED_PROXIES: PROXY,
      IDENTITY_TLS_CERT_AUTH_CLIENT_CERTIFICATE_HEADER_KEY: "X-Amzn-Mtls-Clientcert",
    });
    expect(await ask(viaProxy(), { "X-AMZN-MTLS-CLIENTCERT": escapedPem(leaf) })).toMatchObject({ chain: [b64(leaf.der)] });
  });
});

describe("clientIp", () => {
  const ask = harness({ TRUSTED_PROXIES: "10.0.0.0/8, fd00::/8" });

  it("is the TCP peer when the peer is not a trusted proxy, whatever X-Forwarded-For says", async () => {
    expect((await ask(direct(), { "x-forwarded-for": "1.1.1.1" })) as { ip: string }).toMatchObject({ ip: CLIENT });
  });

  it("is the last X-Forwarded-For address that is not a trusted proxy, walking right to left", async () => {
    expect(await ask(viaProxy(), { "x-forwarded-for": "1.1.1.1, 198.51.100.2, 10.0.0.9" })).toMatchObject({ ip: "198.51.100.2" });
    expect(await ask(viaProxy(), { "x-forwarded-for": "198.51.100.2:4431, [fd00::1]:80" })).toMatchObject({ ip: "198.51.100.2" });
    expect(await ask(viaProxy(), { "x-forwarded-for": "2001:db8::1" })).toMatchObject({ ip: "2001:db8::1" });
  });

  it("stops at an unreadable hop and falls back to the nearest trusted address", async () => {
    expect(await ask(viaProxy(), { "x-forwarded-for": "1.1.1.1, unknown, 10.0.0.9" })).toMatchObject({ ip: "10.0.0.9" });
    expect(await ask(viaProxy(), { "x-forwarded-for": "10.1.1.1, 10.0.0.9" })).toMatchObject({ ip: "10.1.1.1" });
    expect(await ask(viaProxy())).toMatchObject({ ip: PROXY });
  });
});
