import { describe, expect, it } from "bun:test";
import { KEY_TYPES, makeCa, makeCrl, makeLeaf, type Issued } from "../fixtures/pki.ts";
import { crlPem, key, reason, settings } from "./support.ts";

describe.each(KEY_TYPES.map((t) => [t]))("with %s keys", (type) => {
  let pki: { root: Issued; i1: Issued; i2: Issued; leaf: Issued; direct: Issued } | undefined;
  const setup = async () => {
    if (pki) return pki;
    const [k0, k1, k2, k3] = await Promise.all([key(type, 0), key(type, 1), key(type, 2), key(type, 3)]);
    const root = await makeCa({ subject: `CN=${type} Root`, key: k0 });
    const i1 = await makeCa({ subject: `CN=${type} Intermediate 1`, issuer: root, key: k1 });
    const i2 = await makeCa({ subject: `CN=${type} Intermediate 2`, issuer: i1, key: k2 });
    const leaf = await makeLeaf({ issuer: i2, cn: "svc-a", key: k3 });
    const direct = await makeLeaf({ issuer: root, cn: "svc-b", key: k3 });
    pki = { root, i1, i2, leaf, direct };
    return pki;
  };

  it("accepts a leaf issued directly by the configured CA (direct mode)", async () => {
    const { root, direct } = await setup();
    expect(await reason(settings(root), [direct])).toBe("ok");
  });

  it("refuses a leaf signed by another key under the CA's name with ca_verification_failed", async () => {
    const { root } = await setup();
    const forged = await makeLeaf({ issuer: root, cn: "svc-b", key: await key(type, 3), signWith: await key(type, 2) });
    expect(await reason(settings(root), [forged])).toBe("ca_verification_failed");
    expect(await reason(settings(root, { verifyClientCertificateChain: true }), [forged])).toBe("ca_verification_failed");
  });

  it("accepts a chain of four (leaf, two intermediates, anchor) in chain mode and refuses it in direct mode", async () => {
    const { root, i1, i2, leaf } = await setup();
    expect(await reason(settings(root, { verifyClientCertificateChain: true }), [leaf, i2, i1])).toBe("ok");
    expect(await reason(settings(root), [leaf, i2, i1])).toBe("ca_verification_failed");
  });

  it("refuses with certificate_revoked when an intermediate's CRL lists the leaf", async () => {
    const { root, i1, i2, leaf } = await setup();
    const crl = await makeCrl({ issuer: i2, revoked: [leaf.serial] });
    const s = settings(root, { verifyClientCertificateChain: true, crls: crlPem(crl) });
    expect(await reason(s, [leaf, i2, i1])).toBe("certificate_revoked");
  });

  it("refuses with certificate_revoked when the anchor's CRL lists an intermediate", async () => {
    const { root, i1, i2, leaf } = await setup();
    const crl = await makeCrl({ issuer: root, revoked: [i1.serial] });
    const s = settings(root, { verifyClientCertificateChain: true, crls: crlPem(crl) });
    expect(await reason(s, [leaf, i2, i1])).toBe("certificate_revoked");
  });
});
