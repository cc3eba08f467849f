import { describe, expect, it } from "bun:test";
import { compileTrust, TrustConfigError } from "../../src/pki/index.ts";
import { daysFromNow, makeCa, makeCrl, makeLeaf, randomSerial } from "../fixtures/pki.ts";
import { check, crlPem, key, reason, settings } from "./support.ts";

const chainMode = { verifyClientCertificateChain: true };

async function pki() {
  const notBefore = daysFromNow(-5);
  const root = await makeCa({ subject: "CN=Root", notBefore });
  const inter = await makeCa({ subject: "CN=Inter", issuer: root, notBefore });
  const leaf = await makeLeaf({ issuer: inter, cn: "svc", notBefore });
  const direct = await makeLeaf({ issuer: root, cn: "svc" });
  return { root, inter, leaf, direct };
}

describe("CRLs", () => {
  it("refuses a leaf listed in the configured CA's CRL with certificate_revoked (direct mode)", async () => {
    const { root, direct } = await pki();
    const crl = await makeCrl({ issuer: root, revoked: ["0badc0de", direct.serial] });
    expect(await reason(settings(root, { crls: crlPem(crl) }), [direct])).toBe("certificate_revoked");
    const other = await makeCrl({ issuer: root, revoked: ["0badc0de"] });
    expect(await reason(settings(root, { crls: crlPem(other) }), [direct])).toBe("ok");
  });

  it("refuses with crl_expired when the CRL for an issuer on the path is past its nextUpdate", async () => {
    const { root, inter, leaf } = await pki();
    const stale = await makeCrl({ issuer: inter, thisUpdate: daysFromNow(-10), nextUpdate: daysFromNow(-1) });
    const s = settings(root, { ...chainMode, crls: crlPem(stale) });
    expect(await reason(s, [leaf, inter])).toBe("crl_expired");
    const trust = await compileTrust(s);
    expect(await reason(trust, [leaf, inter], daysFromNow(-2))).toBe("ok");
  });

  it("accepts a CRL past its nextUpdate at compile time, and an expired CRL for an issuer on no path is unused", async () => {
    const { root, direct } = await pki();
    const elsewhere = await makeCa({ subject: "CN=Elsewhere" });
    const stale = await makeCrl({ issuer: elsewhere, nextUpdate: daysFromNow(-1), thisUpdate: daysFromNow(-3) });
    const trust = await compileTrust(settings(root, { crls: crlPem(stale) }));
    expect(await reason(trust, [direct])).toBe("ok");
  });

  it("refuses at compile time a CRL naming a configured CA that the CA did not sign", async () => {
    const { root } = await pki();
    const forged = await makeCrl({ issuer: root, signWith: await key("p256", 9) });
    await expect(compileTrust(settings(root, { crls: crlPem(forged) }))).rejects.toBeInstanceOf(TrustConfigError);
  });

  it("verifies an intermediate's CRL at login, failing closed with certificate_revoked when it does not verify", async () => {
    const { root, inter, leaf } = await pki();
    const forged = await makeCrl({ issuer: inter, signWith: await key("p256", 9) });
    const s = settings(root, { ...chainMode, crls: crlPem(forged) });
    const verdict = await check(s, [leaf, inter]);
    expect(verdict).toMatchObject({ ok: false, reason: "certificate_revoked" });
    expect(verdict.ok ? "" : verdict.message).toContain("does not verify");
    const genuine = await makeCrl({ issuer: inter });
    expect(await reason(settings(root, { ...chainMode, crls: crlPem(genuine) }), [leaf, inter])).toBe("ok");
  });

  it("verifies at login an intermediate's CRL that lists other serials, over its original bytes", async () => {
    // The compiled CRL drops its decoded entries; the signature must still be checked over the bytes as signed.
    const { root, inter, leaf } = await pki();
    const others = Array.from({ length: 50 }, randomSerial);
    const crl = await makeCrl({ issuer: inter, revoked: others });
    expect(await reason(settings(root, { ...chainMode, crls: crlPem(crl) }), [leaf, inter])).toBe("ok");
    const listing = await makeCrl({ issuer: inter, revoked: [...others, leaf.serial] });
    expect(await reason(settings(root, { ...chainMode, crls: crlPem(listing) }), [leaf, inter])).toBe("certificate_revoked");
  });

  it("applies several CRLs from one PEM to each certificate of the path", async () => {
    const { root, inter, leaf } = await pki();
    const rootCrl = await makeCrl({ issuer: root, revoked: [inter.serial] });
    const interCrl = await makeCrl({ issuer: inter });
    expect(await reason(settings(root, { ...chainMode, crls: crlPem(interCrl, rootCrl) }), [leaf, inter])).toBe("certificate_revoked");
    const rootCrlClean = await makeCrl({ issuer: root });
    expect(await reason(settings(root, { ...chainMode, crls: crlPem(interCrl, rootCrlClean) }), [leaf, inter])).toBe("ok");
  });

  it("revokes a configured CA listed in another configured CA's CRL", async () => {
    const { root, inter, leaf } = await pki();
    const crl = await makeCrl({ issuer: root, revoked: [inter.serial] });
    expect(await reason(settings([root, inter], { ...chainMode, crls: crlPem(crl) }), [leaf])).toBe("certificate_revoked");
  });

  it("checks CRL expiry before revocation, and both after name constraints", async () => {
    const root = await makeCa({ subject: "CN=Root", nameConstraints: { permitted: { dns: ["example.com"] } } });
    const leaf = await makeLeaf({ issuer: root, cn: "svc", sans: { dns: ["x.example.org"] } });
    const stale = await makeCrl({ issuer: root, revoked: [leaf.serial], nextUpdate: daysFromNow(-1), thisUpdate: daysFromNow(-2) });
    expect(await reason(settings(root, { crls: crlPem(stale) }), [leaf])).toBe("name_constraint_violation");
    const ok = await makeLeaf({ issuer: root, cn: "svc", sans: { dns: ["x.example.com"] } });
    const stale2 = await makeCrl({ issuer: root, revoked: [ok.serial], nextUpdate: daysFromNow(-1), thisUpdate: daysFromNow(-2) });
    expect(await reason(settings(root, { crls: crlPem(stale2) }), [ok])).toBe("crl_expired");
  });

  // 20,000 keeps the suite fast; the benchmark (bench/) measures login cost against 100,000 serials.
  it("compiles a 20,000-serial CRL and finds a revoked serial deep inside it", async () => {
    const { root, direct } = await pki();
    const serials = Array.from({ length: 20_000 }, (_, i) => (0x10_0000 + i).toString(16));
    serials[14_321] = direct.serial;
    const crl = await makeCrl({ issuer: root, revoked: serials });
    const trust = await compileTrust(settings(root, { crls: crlPem(crl) }));
    expect(trust.crls[0]?.revoked.size).toBe(20_000);
    expect(await reason(trust, [direct])).toBe("certificate_revoked");
  }, 60_000);
});
