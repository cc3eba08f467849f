import { describe, expect, it } from "bun:test";
import { compileTrust, verifiedChains, VerifiedChainCache, type CompiledTrust } from "../../src/pki/index.ts";
import { sha256Hex } from "../../src/pki/lib/digest.ts";
import { chargeFor } from "../../src/pki/lib/load.ts";
import { daysFromNow, makeCa, makeCrl, makeLeaf, type Issued } from "../fixtures/pki.ts";
import { crlPem, reason, settings } from "./support.ts";

/** Whether the process-wide cache holds a verified path for `chain` (leaf first) under `trust`. */
async function cached(trust: CompiledTrust, ...chain: Issued[]): Promise<boolean> {
  const fingerprints = await Promise.all(chain.map((c) => sha256Hex(c.der)));
  return verifiedChains.get(VerifiedChainCache.key(trust.id, fingerprints), new Date()) !== undefined;
}

describe("VerifiedChainCache inside verifyChain", () => {
  it("caches a verified path, and still judges validity and CRL expiry against now on a hit", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const inter = await makeCa({ subject: "CN=Inter", issuer: root, notAfter: daysFromNow(30) });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc", notAfter: daysFromNow(60) });
    const crl = await makeCrl({ issuer: inter, nextUpdate: daysFromNow(10) });
    const trust = await compileTrust(settings(root, { verifyClientCertificateChain: true, crls: crlPem(crl) }));
    expect(await reason(trust, [leaf, inter])).toBe("ok");
    expect(await cached(trust, leaf, inter)).toBe(true);
    expect(await reason(trust, [leaf, inter])).toBe("ok");
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
    expect(await cached(trust, leaf, inter)).toBe(true);
    expect(await cached(trust, leaf)).toBe(false);
    expect(await cached(trust, leaf, inter, inter)).toBe(true);
  });

  it("holds every configuration's entries in one process-wide budget of 8 MiB", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    // A leaf with a long SAN list, (under the 16 KiB limit), so that about a hundred entries fill the budget.
    const dns = Array.from({ length: 180 }, (_, i) => `host-${i}.${"a".repeat(48)}.example.com`);
    const leaf = await makeLeaf({ issuer: root, cn: "svc", sans: { dns } });
    const trusts = await Promise.all(Array.from({ length: Math.ceil((8 * 1024 * 1024) / chargeFor(leaf.der)) + 8 }, () => compileTrust(settings(root))));
    for (const trust of trusts) expect(await reason(trust, [leaf])).toBe("ok");
    expect(verifiedChains.budget).toBe(8 * 1024 * 1024);
    expect(verifiedChains.bytes).toBeLessThanOrEqual(verifiedChains.budget);
    // The oldest configurations' entries made room for the newest.
    expect(await cached(trusts[0]!, leaf)).toBe(false);
    expect(await cached(trusts.at(-1)!, leaf)).toBe(true);
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
