import { describe, expect, it } from "bun:test";
import { OID_ANY_EKU, OID_CLIENT_AUTH, OID_SERVER_AUTH, makeCa, makeLeaf } from "../fixtures/pki.ts";
import { DAY, at, check, reason, settings } from "./support.ts";

describe("the leaf", () => {
  it("refuses an empty chain and undecodable bytes with bad_certificate and no leaf summary", async () => {
    const ca = await makeCa();
    expect(await check(settings(ca), [])).toMatchObject({ ok: false, reason: "bad_certificate", leaf: null });
    expect(await check(settings(ca), [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])])).toMatchObject({
      ok: false,
      reason: "bad_certificate",
      leaf: null,
    });
  });

  it("reports the leaf's SHA-256 fingerprint and subject in the verdict", async () => {
    const ca = await makeCa();
    const leaf = await makeLeaf({ issuer: ca, cn: "svc-a", o: "Example" });
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", leaf.der));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    const verdict = await check(settings(ca), [leaf]);
    expect(verdict).toEqual({ ok: true, leaf: { fingerprint: hex, subject: "CN=svc-a, O=Example" } });
  });

  it("refuses a leaf that is a CA certificate (cA=true) with ca_certificate_not_allowed", async () => {
    const ca = await makeCa();
    const leafCa = await makeLeaf({ issuer: ca, cn: "sub-ca", isCa: true });
    expect(await reason(settings(ca), [leafCa])).toBe("ca_certificate_not_allowed");
    const plain = await makeLeaf({ issuer: ca, cn: "svc" });
    expect(await reason(settings(ca), [plain])).toBe("ok");
  });

  it("refuses the configured CA itself presented as the leaf with ca_certificate_not_allowed", async () => {
    const ca = await makeCa({ basicConstraints: false });
    expect(await reason(settings(ca), [ca])).toBe("ca_certificate_not_allowed");
    expect(await reason(settings(ca, { verifyClientCertificateChain: true }), [ca])).toBe("ca_certificate_not_allowed");
  });

  it("accepts a leaf at exactly notBefore and exactly notAfter (inclusive) and refuses one millisecond outside", async () => {
    const ca = await makeCa();
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - DAY);
    const notAfter = at(notBefore, 10 * DAY);
    const leaf = await makeLeaf({ issuer: ca, cn: "svc", notBefore, notAfter });
    expect(await reason(settings(ca), [leaf], notBefore)).toBe("ok");
    expect(await reason(settings(ca), [leaf], notAfter)).toBe("ok");
    expect(await reason(settings(ca), [leaf], at(notBefore, -1))).toBe("certificate_not_yet_valid");
    expect(await reason(settings(ca), [leaf], at(notAfter, 1))).toBe("certificate_expired");
  });

  it("refuses a leaf whose EKU is serverAuth only with client_auth_usage_not_allowed", async () => {
    const ca = await makeCa();
    const leaf = await makeLeaf({ issuer: ca, cn: "svc", eku: [OID_SERVER_AUTH] });
    expect(await reason(settings(ca), [leaf])).toBe("client_auth_usage_not_allowed");
  });

  it("accepts a leaf with clientAuth, with anyExtendedKeyUsage, or with no EKU extension", async () => {
    const ca = await makeCa();
    for (const eku of [[OID_SERVER_AUTH, OID_CLIENT_AUTH], [OID_ANY_EKU], null]) {
      const leaf = await makeLeaf({ issuer: ca, cn: "svc", eku });
      expect(await reason(settings(ca), [leaf])).toBe("ok");
    }
  });

  it("checks ca_certificate_not_allowed before validity, and validity before EKU", async () => {
    const ca = await makeCa();
    const old = { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) };
    const expiredCa = await makeLeaf({ issuer: ca, cn: "x", isCa: true, ...old });
    expect(await reason(settings(ca), [expiredCa])).toBe("ca_certificate_not_allowed");
    const expiredServer = await makeLeaf({ issuer: ca, cn: "x", eku: [OID_SERVER_AUTH], ...old });
    expect(await reason(settings(ca), [expiredServer])).toBe("certificate_expired");
  });
});
