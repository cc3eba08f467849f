import { describe, expect, it } from "bun:test";
import { assertCryptoPolicy, compileTrust, TrustConfigError } from "../../src/pki/index.ts";
import { makeCa, makeCrl, makeLeaf, signingWithHash } from "../fixtures/pki.ts";
import { crlPem, key, reason, settings } from "./support.ts";

const chainMode = { verifyClientCertificateChain: true };

describe("crypto policy", () => {
  it("refuses a leaf signed with SHA-1 (RSA or ECDSA) with weak_signature_algorithm", async () => {
    const rsa = await makeCa({ key: await key("rsa2048") });
    const ec = await makeCa({ key: "p256" });
    const rsaSha1 = await makeLeaf({ issuer: rsa, cn: "svc", signWith: await signingWithHash(rsa.key, "SHA-1") });
    const ecSha1 = await makeLeaf({ issuer: ec, cn: "svc", signWith: await signingWithHash(ec.key, "SHA-1") });
    expect(await reason(settings(rsa), [rsaSha1])).toBe("weak_signature_algorithm");
    expect(await reason(settings(ec), [ecSha1])).toBe("weak_signature_algorithm");
    expect(await reason(settings(rsa), [await makeLeaf({ issuer: rsa, cn: "svc" })])).toBe("ok");
  });

  it("refuses an intermediate signed with SHA-1, and does not judge the trust anchor's own signature", async () => {
    const rootKey = await key("rsa2048");
    const sha1Root = await makeCa({ subject: "CN=SHA-1 Root", key: await signingWithHash(rootKey, "SHA-1") });
    expect(sha1Root.cert.signatureAlgorithm).toMatchObject({ hash: { name: "SHA-1" } });
    const inter = await makeCa({ subject: "CN=Inter", issuer: sha1Root, signWith: rootKey });
    const sha1Inter = await makeCa({ subject: "CN=Inter", issuer: sha1Root });
    expect(await reason(settings(sha1Root, chainMode), [await makeLeaf({ issuer: inter, cn: "svc" }), inter])).toBe("ok");
    expect(await reason(settings(sha1Root, chainMode), [await makeLeaf({ issuer: sha1Inter, cn: "svc" }), sha1Inter])).toBe("weak_signature_algorithm");
  });

  it("refuses RSA keys under 2048 bits on the leaf, an intermediate or the anchor with weak_key", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const weakInter = await makeCa({ subject: "CN=Weak Inter", issuer: root, key: await key("rsa1024") });
    expect(await reason(settings(root, chainMode), [await makeLeaf({ issuer: weakInter, cn: "svc" }), weakInter])).toBe("weak_key");
    expect(await reason(settings(root), [await makeLeaf({ issuer: root, cn: "svc", key: await key("rsa1024") })])).toBe("weak_key");
    // A configuration stored before the policy: it still loads, and its logins are refused.
    const weakRoot = await makeCa({ subject: "CN=Weak Root", key: await key("rsa1024") });
    expect(await reason(settings(weakRoot), [await makeLeaf({ issuer: weakRoot, cn: "svc" })])).toBe("weak_key");
  });

  it("accepts P-256, P-384, P-521, Ed25519 and RSA-PSS chains", async () => {
    const root = await makeCa({ subject: "CN=P-384 Root", key: "p384" });
    const inter = await makeCa({ subject: "CN=P-256 Inter", issuer: root, key: "p256" });
    for (const type of ["p256", "p384", "p521", "ed25519", "rsa-pss"] as const) {
      const leaf = await makeLeaf({ issuer: inter, cn: "svc", key: await key(type) });
      expect(await reason(settings(root, chainMode), [leaf, inter])).toBe("ok");
    }
  });

  it("refuses a login whose path uses a CRL signed with SHA-1 (an intermediate's, in chain mode), and ignores an unused one", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const inter = await makeCa({ subject: "CN=Inter", issuer: root, key: await key("rsa2048") });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc" });
    const sha1Crl = await makeCrl({ issuer: inter, signWith: await signingWithHash(inter.key, "SHA-1") });
    const goodCrl = await makeCrl({ issuer: inter });
    expect(await reason(settings(root, { ...chainMode, crls: crlPem(goodCrl) }), [leaf, inter])).toBe("ok");
    expect(await reason(settings(root, { ...chainMode, crls: crlPem(sha1Crl) }), [leaf, inter])).toBe("weak_signature_algorithm");
    const elsewhere = await makeCa({ subject: "CN=Elsewhere", key: await key("rsa2048") });
    const unused = await makeCrl({ issuer: elsewhere, signWith: await signingWithHash(elsewhere.key, "SHA-1") });
    expect(await reason(settings(root, { ...chainMode, crls: crlPem(unused) }), [leaf, inter])).toBe("ok");
  });

  it("names a weak CA key or a SHA-1 CRL when a configuration is checked for attaching", async () => {
    const weakRoot = await makeCa({ subject: "CN=Weak Root", key: await key("rsa1024") });
    const attach = async (s: Parameters<typeof compileTrust>[0]) => assertCryptoPolicy(await compileTrust(s));
    await expect(attach(settings(weakRoot))).rejects.toThrow(new TrustConfigError('The CA certificate "CN=Weak Root" has an RSA key of 1024 bits; certauth requires RSA keys of at least 2048 bits or EC keys on P-256, P-384 or P-521 (or Ed25519/Ed448).'));
    const root = await makeCa({ subject: "CN=Root", key: await key("rsa2048") });
    const sha1Crl = await makeCrl({ issuer: root, signWith: await signingWithHash(root.key, "SHA-1") });
    await expect(attach(settings(root, { crls: crlPem(sha1Crl) }))).rejects.toThrow("CRL #1 is signed with SHA-1 with RSA");
    await attach(settings(root, { crls: crlPem(await makeCrl({ issuer: root })) }));
  });
});
