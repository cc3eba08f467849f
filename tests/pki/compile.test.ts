import { describe, expect, it } from "bun:test";
import {
  TrustCache,
  TrustConfigError,
  compileTrust,
  parsePemCertificates,
  summarizeLeaf,
} from "../../src/pki/index.ts";
import { OID_ANY_EKU, OID_CLIENT_AUTH, OID_SERVER_AUTH, bundle, makeCa, makeCrl, makeLeaf } from "../fixtures/pki.ts";
import { crlPem, key, reason, settings } from "./support.ts";

const refusal = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TrustConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a TrustConfigError");
};

describe("compileTrust", () => {
  it("refuses a caCertificate without a CERTIFICATE PEM block", async () => {
    const ca = await makeCa();
    expect(await refusal(compileTrust({ ...settings(ca), caCertificate: "hello" }))).toContain("no PEM");
    expect(await refusal(compileTrust({ ...settings(ca), caCertificate: ca.keyPem }))).toContain("no PEM");
  });

  it("refuses a CERTIFICATE block that does not decode", async () => {
    const ca = await makeCa();
    const broken = "-----BEGIN CERTIFICATE-----\nMIIBAAAAAAAA\n-----END CERTIFICATE-----\n";
    expect(await refusal(compileTrust({ ...settings(ca), caCertificate: ca.pem + broken }))).toContain("#2");
  });

  it("refuses a configured CA whose EKU excludes clientAuth", async () => {
    const ok = await makeCa({ eku: [OID_CLIENT_AUTH] });
    const any = await makeCa({ eku: [OID_ANY_EKU] });
    const serverOnly = await makeCa({ subject: "CN=Server Only CA", eku: [OID_SERVER_AUTH] });
    await compileTrust(settings([ok, any]));
    expect(await refusal(compileTrust(settings([ok, serverOnly])))).toContain("Server Only CA");
  });

  it("refuses CRL text with no X509 CRL block, or an undecodable one", async () => {
    const ca = await makeCa();
    expect(await refusal(compileTrust(settings(ca, { crls: ca.pem })))).toContain("CRL");
    const broken = "-----BEGIN X509 CRL-----\nMIIBAAAA\n-----END X509 CRL-----\n";
    expect(await refusal(compileTrust(settings(ca, { crls: broken })))).toContain("CRL #1");
  });

  it("refuses a CRL that names a configured CA but is signed by another key", async () => {
    const ca = await makeCa({ subject: "CN=Signed CA" });
    const forged = await makeCrl({ issuer: ca, signWith: await key("p256", 8) });
    expect(await refusal(compileTrust(settings(ca, { crls: crlPem(forged) })))).toContain("does not verify");
  });

  it("accepts a CRL past its nextUpdate, and treats blank CRL text as none", async () => {
    const ca = await makeCa();
    const stale = await makeCrl({ issuer: ca, thisUpdate: new Date(Date.now() - 9e8), nextUpdate: new Date(Date.now() - 1e3) });
    await compileTrust(settings(ca, { crls: crlPem(stale) }));
    expect((await compileTrust(settings(ca, { crls: "  \n" }))).crls.length).toBe(0);
  });

  it("refuses malformed allowedSubjectAltNames entries", async () => {
    const ca = await makeCa();
    for (const entry of ["foo:bar", "ip:10.0.0.*", "ip:10.0.0.0/8", "ip:example.com", "ip:", "dns:", "::1"]) {
      await refusal(compileTrust(settings(ca, { allowedSubjectAltNames: [entry] })));
    }
    await compileTrust(settings(ca, { allowedSubjectAltNames: ["dns:*.a.com", "b.com", "ip:::1", "email:*@x", "uri:spiffe://x/*"] }));
  });
});

describe("parsePemCertificates", () => {
  it("returns the DER of each CERTIFICATE block and skips other blocks", async () => {
    const a = await makeCa();
    const b = await makeCa();
    const ders = parsePemCertificates(`${a.keyPem}\n${bundle(a, b)}`);
    expect(ders).toEqual([a.der, b.der]);
  });

  it("throws TrustConfigError when there is no block", () => {
    expect(() => parsePemCertificates("")).toThrow(TrustConfigError);
  });
});

describe("summarizeLeaf", () => {
  it("gives the SHA-256 fingerprint and subject, or null for garbage", async () => {
    const ca = await makeCa();
    const leaf = await makeLeaf({ issuer: ca, cn: "svc-a", o: "Example", ou: "ops" });
    const summary = await summarizeLeaf(leaf.der);
    expect(summary?.subject).toBe("CN=svc-a, O=Example, OU=ops");
    expect(summary?.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(await summarizeLeaf(new Uint8Array([1, 2, 3]))).toBeNull();
  });
});

describe("TrustCache", () => {
  it("shares one compilation between concurrent gets of a key and recompiles a new version", async () => {
    const ca = await makeCa();
    const cache = new TrustCache();
    const [a, b] = await Promise.all([cache.get("cfg1:1", settings(ca)), cache.get("cfg1:1", settings(ca))]);
    expect(a).toBe(b);
    const c = await cache.get("cfg1:2", settings(ca));
    expect(c).not.toBe(a);
  });

  it("evicts the least recently used entry past its byte budget and does not keep failures", async () => {
    const ca = await makeCa();
    const size = (await compileTrust(settings(ca))).retainedBytes;
    const cache = new TrustCache(2 * size + size / 2);
    const first = await cache.get("a:1", settings(ca));
    await cache.get("b:1", settings(ca));
    await cache.get("a:1", settings(ca));
    await cache.get("c:1", settings(ca));
    expect(await cache.get("a:1", settings(ca))).toBe(first);
    await expect(cache.get("bad:1", { ...settings(ca), caCertificate: "x" })).rejects.toBeInstanceOf(TrustConfigError);
    expect(await reason(await cache.get("bad:1", settings(ca)), [await makeLeaf({ issuer: ca, cn: "x" })])).toBe("ok");
  });

  it("keeps a tenant's compiled configuration while another tenant compiles more than the whole budget", async () => {
    const ca = await makeCa();
    const size = (await compileTrust(settings(ca))).retainedBytes;
    const cache = new TrustCache(4 * size + size / 2);
    const mine = await cache.get("b:1", settings(ca), undefined, "tenant-b");
    for (let i = 0; i < 12; i++) await cache.get(`a${i}:1`, settings(ca), undefined, "tenant-a");
    expect(cache.compiled("b:1")).toBe(mine);
    // The other tenant's oldest went instead.
    expect(cache.compiled("a0:1")).toBeUndefined();
    expect(cache.compiled("a11:1")).toBeDefined();
    expect(cache.bytes).toBeLessThanOrEqual(4 * size + size / 2);
  });
});
