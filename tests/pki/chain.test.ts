import { describe, expect, it } from "bun:test";
import * as x509 from "../../src/pki/x509.ts";
import { OID_CLIENT_AUTH, OID_SERVER_AUTH, daysFromNow, makeCa, makeLeaf } from "../fixtures/pki.ts";
import { key, reason, settings } from "./support.ts";

const chainMode = { verifyClientCertificateChain: true };
const past = { notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) };
const future = { notBefore: daysFromNow(1), notAfter: daysFromNow(30) };

async function threeDeep() {
  const root = await makeCa({ subject: "CN=Root" });
  const i1 = await makeCa({ subject: "CN=Inter 1", issuer: root });
  const i2 = await makeCa({ subject: "CN=Inter 2", issuer: i1 });
  const leaf = await makeLeaf({ issuer: i2, cn: "svc" });
  return { root, i1, i2, leaf };
}

describe("chain mode path building", () => {
  it("accepts chains of length 1 to 4 (leaf alone up to leaf + three intermediates)", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    let issuer = root;
    const intermediates = [];
    for (let depth = 0; depth <= 3; depth++) {
      const leaf = await makeLeaf({ issuer, cn: `depth-${depth}` });
      expect(await reason(settings(root, chainMode), [leaf, ...[...intermediates].reverse()])).toBe("ok");
      issuer = await makeCa({ subject: `CN=Inter ${depth}`, issuer });
      intermediates.push(issuer);
    }
  });

  it("accepts out-of-order, duplicated intermediates and a copy of the anchor", async () => {
    const { root, i1, i2, leaf } = await threeDeep();
    expect(await reason(settings(root, chainMode), [leaf, i1, i2])).toBe("ok");
    expect(await reason(settings(root, chainMode), [leaf, i1, i1, root, i2, i2])).toBe("ok");
  });

  it("ignores an undecodable intermediate, and refuses with ca_verification_failed when none is left to chain through", async () => {
    const { root, i1, i2, leaf } = await threeDeep();
    const junk = new Uint8Array([0x30, 0x82, 0xff, 0xff, 1, 2, 3]);
    expect(await reason(settings(root, chainMode), [leaf, junk, i2, i1])).toBe("ok");
    expect(await reason(settings(root, chainMode), [leaf, junk, i1])).toBe("ca_verification_failed");
  });

  it("refuses with ca_verification_failed when the intermediates lead to another root", async () => {
    const { i1, i2, leaf } = await threeDeep();
    const otherRoot = await makeCa({ subject: "CN=Root" });
    expect(await reason(settings(otherRoot, chainMode), [leaf, i2, i1])).toBe("ca_verification_failed");
  });

  it("refuses an intermediate whose signature does not verify with ca_verification_failed", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const forged = await makeCa({ subject: "CN=Inter", issuer: root, signWith: await key("p256", 7) });
    const leaf = await makeLeaf({ issuer: forged, cn: "svc" });
    expect(await reason(settings(root, chainMode), [leaf, forged])).toBe("ca_verification_failed");
  });

  it("ignores client-sent intermediates in direct mode", async () => {
    const { root, i1, i2, leaf } = await threeDeep();
    expect(await reason(settings(root), [leaf, i2, i1])).toBe("ca_verification_failed");
    expect(await reason(settings(i2), [leaf, i1, root])).toBe("ok");
  });

  it("refuses an intermediate that is not a CA (cA=false) with ca_verification_failed", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const notCa = await makeCa({ subject: "CN=Not a CA", issuer: root, isCa: false });
    const leaf = await makeLeaf({ issuer: notCa, cn: "svc" });
    expect(await reason(settings(root, chainMode), [leaf, notCa])).toBe("ca_verification_failed");
  });

  it("refuses an intermediate whose keyUsage lacks keyCertSign with ca_verification_failed", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const inter = await makeCa({ subject: "CN=Inter", issuer: root, keyUsage: x509.KeyUsageFlags.digitalSignature });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc" });
    expect(await reason(settings(root, chainMode), [leaf, inter])).toBe("ca_verification_failed");
  });

  it("refuses an anchor without basicConstraints cA in chain mode with ca_verification_failed", async () => {
    const root = await makeCa({ subject: "CN=Root", basicConstraints: false });
    const leaf = await makeLeaf({ issuer: root, cn: "svc" });
    expect(await reason(settings(root, chainMode), [leaf])).toBe("ca_verification_failed");
    expect(await reason(settings(root), [leaf])).toBe("ok");
  });
});

describe("CAs on the path", () => {
  it("refuses an expired intermediate with issuer_certificate_expired", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const inter = await makeCa({ subject: "CN=Inter", issuer: root, ...past });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc" });
    expect(await reason(settings(root, chainMode), [leaf, inter])).toBe("issuer_certificate_expired");
  });

  it("refuses a not-yet-valid intermediate with issuer_certificate_not_yet_valid", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const inter = await makeCa({ subject: "CN=Inter", issuer: root, ...future });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc" });
    expect(await reason(settings(root, chainMode), [leaf, inter])).toBe("issuer_certificate_not_yet_valid");
  });

  it("refuses an expired anchor with issuer_certificate_expired, in chain and direct mode", async () => {
    const root = await makeCa({ subject: "CN=Root", ...past });
    const leaf = await makeLeaf({ issuer: root, cn: "svc" });
    expect(await reason(settings(root, chainMode), [leaf])).toBe("issuer_certificate_expired");
    expect(await reason(settings(root), [leaf])).toBe("issuer_certificate_expired");
  });

  it("refuses a not-yet-valid issuing CA in direct mode with issuer_certificate_not_yet_valid", async () => {
    const root = await makeCa({ subject: "CN=Root", ...future });
    const leaf = await makeLeaf({ issuer: root, cn: "svc" });
    expect(await reason(settings(root), [leaf])).toBe("issuer_certificate_not_yet_valid");
  });

  it("refuses an intermediate whose EKU is serverAuth only with issuer_client_auth_usage_not_allowed", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const inter = await makeCa({ subject: "CN=Inter", issuer: root, eku: [OID_SERVER_AUTH] });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc" });
    expect(await reason(settings(root, chainMode), [leaf, inter])).toBe("issuer_client_auth_usage_not_allowed");
    const clientInter = await makeCa({ subject: "CN=Inter", issuer: root, eku: [OID_SERVER_AUTH, OID_CLIENT_AUTH] });
    const leaf2 = await makeLeaf({ issuer: clientInter, cn: "svc" });
    expect(await reason(settings(root, chainMode), [leaf2, clientInter])).toBe("ok");
  });

  it("prefers a path that passes: a cross-signed intermediate where one anchor copy is expired", async () => {
    const newKey = await key("p256", 5);
    const oldRoot = await makeCa({ subject: "CN=Old Root", ...past });
    const newRoot = await makeCa({ subject: "CN=New Root", key: newKey });
    const crossSigned = await makeCa({ subject: "CN=New Root", issuer: oldRoot, key: newKey });
    const expiredNewRoot = await makeCa({ subject: "CN=New Root", key: newKey, ...past });
    const leaf = await makeLeaf({ issuer: newRoot, cn: "svc" });
    // Only the old root is configured: the only path goes through it, and it is expired.
    expect(await reason(settings(oldRoot, chainMode), [leaf, crossSigned])).toBe("issuer_certificate_expired");
    // Both the expired copy of the new root and the old root: no path passes.
    expect(await reason(settings([expiredNewRoot, oldRoot], chainMode), [leaf, crossSigned])).toBe("issuer_certificate_expired");
    // The valid new root as well: the path leaf → new root passes.
    expect(await reason(settings([expiredNewRoot, oldRoot, newRoot], chainMode), [leaf, crossSigned])).toBe("ok");
    // Cross-signed by a valid old root: leaf → cross-signed → old root passes even though the direct anchor copy expired.
    const validOld = await makeCa({ subject: "CN=Valid Old Root" });
    const cross2 = await makeCa({ subject: "CN=New Root", issuer: validOld, key: newKey });
    expect(await reason(settings([expiredNewRoot, validOld], chainMode), [leaf, cross2])).toBe("ok");
    expect(await reason(settings([expiredNewRoot], chainMode), [leaf, cross2])).toBe("issuer_certificate_expired");
  });

  it("accepts a leaf from any CA in a bundle (rotation), in direct and chain mode", async () => {
    const oldCa = await makeCa({ subject: "CN=Corp CA", key: await key("p256", 1) });
    const newCa = await makeCa({ subject: "CN=Corp CA", key: await key("p256", 2) });
    const fromOld = await makeLeaf({ issuer: oldCa, cn: "a" });
    const fromNew = await makeLeaf({ issuer: newCa, cn: "b" });
    for (const mode of [false, true]) {
      const s = settings([oldCa, newCa], { verifyClientCertificateChain: mode });
      expect(await reason(s, [fromOld])).toBe("ok");
      expect(await reason(s, [fromNew])).toBe("ok");
      expect(await reason(settings(oldCa, { verifyClientCertificateChain: mode }), [fromNew])).toBe("ca_verification_failed");
    }
  });

  it("matches a PrintableString issuer name against a UTF8String CA subject, ignoring case and extra spaces", async () => {
    const ca = await makeCa({ subject: new x509.Name([{ CN: [{ utf8String: "Example  Issuing CA" }] }, { O: [{ utf8String: "Example Corp" }] }]) });
    const issuerName = new x509.Name([{ CN: [{ printableString: "example issuing ca" }] }, { O: [{ printableString: "EXAMPLE CORP " }] }]);
    const leaf = await makeLeaf({ issuer: ca, issuerName, cn: "svc" });
    expect(await reason(settings(ca), [leaf])).toBe("ok");
    expect(await reason(settings(ca, chainMode), [leaf])).toBe("ok");
    const otherName = new x509.Name([{ CN: [{ printableString: "Example Issuing CA 2" }] }, { O: [{ printableString: "Example Corp" }] }]);
    const mismatched = await makeLeaf({ issuer: ca, issuerName: otherName, cn: "svc" });
    expect(await reason(settings(ca), [mismatched])).toBe("ca_verification_failed");
  });
});

describe("path length", () => {
  it("refuses an intermediate below a pathLen 0 intermediate with path_length_exceeded", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const i1 = await makeCa({ subject: "CN=Inter 1", issuer: root, pathLen: 0 });
    const i2 = await makeCa({ subject: "CN=Inter 2", issuer: i1 });
    const leaf = await makeLeaf({ issuer: i2, cn: "svc" });
    expect(await reason(settings(root, chainMode), [leaf, i2, i1])).toBe("path_length_exceeded");
    const direct = await makeLeaf({ issuer: i1, cn: "svc" });
    expect(await reason(settings(root, chainMode), [direct, i1])).toBe("ok");
  });

  it("applies the anchor's own pathLen", async () => {
    const root = await makeCa({ subject: "CN=Root", pathLen: 1 });
    const i1 = await makeCa({ subject: "CN=Inter 1", issuer: root });
    const i2 = await makeCa({ subject: "CN=Inter 2", issuer: i1 });
    const leaf2 = await makeLeaf({ issuer: i2, cn: "svc" });
    const leaf1 = await makeLeaf({ issuer: i1, cn: "svc" });
    expect(await reason(settings(root, chainMode), [leaf1, i1])).toBe("ok");
    expect(await reason(settings(root, chainMode), [leaf2, i2, i1])).toBe("path_length_exceeded");
  });

  it("does not count a self-issued intermediate (key rollover) against pathLen", async () => {
    const root = await makeCa({ subject: "CN=Root", pathLen: 0 });
    const rollover = await makeCa({ subject: "CN=Root", issuer: root, key: await key("p256", 6) });
    const leaf = await makeLeaf({ issuer: rollover, cn: "svc" });
    expect(await reason(settings(root, chainMode), [leaf, rollover])).toBe("ok");
  });
});
