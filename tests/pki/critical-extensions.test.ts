import { describe, expect, it } from "bun:test";
import * as x509 from "../../src/pki/x509.ts";
import { compileTrust, TrustConfigError } from "../../src/pki/index.ts";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";
import { check, reason, settings } from "./support.ts";

/** A private-arc extension nobody processes; its value is an ASN.1 NULL. */
const unknownExtension = (critical: boolean) => new x509.Extension("1.3.6.1.4.1.55555.1.1", critical, new Uint8Array([5, 0]));

describe("critical extensions (RFC 5280 §4.2)", () => {
  it("refuses a leaf with a critical extension the engine does not process, with ca_verification_failed", async () => {
    const root = await makeCa({ subject: "CN=Critical Root" });
    const leaf = await makeLeaf({ issuer: root, cn: "svc", extraExtensions: [unknownExtension(true)] });
    const verdict = await check(settings(root), [leaf]);
    expect(verdict.ok).toBe(false);
    expect(verdict.ok ? "" : verdict.reason).toBe("ca_verification_failed");
    expect(verdict.ok ? "" : verdict.message).toContain("1.3.6.1.4.1.55555.1.1");
  });

  it("accepts the same extension when it is not critical", async () => {
    const root = await makeCa({ subject: "CN=Critical Root 2" });
    const leaf = await makeLeaf({ issuer: root, cn: "svc", extraExtensions: [unknownExtension(false)] });
    expect(await reason(settings(root), [leaf])).toBe("ok");
  });

  it("refuses, when configured, a CA with an unprocessed critical extension", async () => {
    const root = await makeCa({ subject: "CN=Critical Anchor", extraExtensions: [unknownExtension(true)] });
    await expect(compileTrust(settings(root))).rejects.toThrow(TrustConfigError);
    await expect(compileTrust(settings(root))).rejects.toThrow("1.3.6.1.4.1.55555.1.1");
  });

  it("refuses a chain through an intermediate with an unprocessed critical extension", async () => {
    const root = await makeCa({ subject: "CN=Critical Root 3" });
    const inter = await makeCa({ subject: "CN=Critical Inter", issuer: root, extraExtensions: [unknownExtension(true)] });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc" });
    expect(await reason(settings(root, { verifyClientCertificateChain: true }), [leaf, inter])).toBe("ca_verification_failed");
  });
});
