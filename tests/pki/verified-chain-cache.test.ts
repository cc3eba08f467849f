import { describe, expect, it } from "bun:test";
import { compileTrust } from "../../src/pki/index.ts";
import { daysFromNow, makeCa, makeCrl, makeLeaf } from "../fixtures/pki.ts";
import { crlPem, reason, settings } from "./support.ts";

describe("VerifiedChainCache inside verifyChain", () => {
  it("caches a verified path, and still judges validity and CRL expiry against now on a hit", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const inter = await makeCa({ subject: "CN=Inter", issuer: root, notAfter: daysFromNow(30) });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc", notAfter: daysFromNow(60) });
    const crl = await makeCrl({ issuer: inter, nextUpdate: daysFromNow(10) });
    const trust = await compileTrust(settings(root, { verifyClientCertificateChain: true, crls: crlPem(crl) }));
    expect(await reason(trust, [leaf, inter])).toBe("ok");
    expect(trust.chainCache.size).toBe(1);
    expect(await reason(trust, [leaf, inter])).toBe("ok");
    expect(trust.chainCache.size).toBe(1);
    expect(await reason(trust, [leaf, inter], daysFromNow(11))).toBe("crl_expired");
    expect(await reason(trust, [leaf, inter], daysFromNow(45))).toBe("issuer_certificate_expired");
  });

  it("keys entries by every presented certificate, so a different chain is verified afresh", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const inter = await makeCa({ subject: "CN=Inter", issuer: root });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc" });
    const trust = await compileTrust(settings(root, { verifyClientCertificateChain: true }));
    expect(await reason(trust, [leaf, inter])).toBe("ok");
    expect(await reason(trust, [leaf])).toBe("ca_verification_failed");
    expect(await reason(trust, [leaf, inter, inter])).toBe("ok");
    expect(trust.chainCache.size).toBe(2);
  });

  it("is per compiled configuration: another configuration does not see the entry", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const leaf = await makeLeaf({ issuer: root, cn: "svc" });
    const a = await compileTrust(settings(root));
    const other = await makeCa({ subject: "CN=Root" });
    const b = await compileTrust(settings(other));
    expect(await reason(a, [leaf])).toBe("ok");
    expect(await reason(b, [leaf])).toBe("ca_verification_failed");
  });
});
