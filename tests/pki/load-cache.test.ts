import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import * as x509 from "../../src/pki/x509.ts";
import { loadCertificate, parsedCertificates } from "../../src/pki/lib/load.ts";
import { generateKeys, makeCa, makeLeaf } from "../fixtures/pki.ts";

const sha256 = (der: Uint8Array) => createHash("sha256").update(der).digest("hex");

describe("loadCertificate's per-object cache", () => {
  test("the same DER object answers the same certificate again", async () => {
    const ca = await makeCa({ subject: "CN=Load Cache Root" });
    const leaf = await makeLeaf({ issuer: ca, cn: "load-cache-a" });
    const der = new Uint8Array(leaf.der);
    const first = await loadCertificate(der);
    const again = await loadCertificate(der);
    expect(first.fingerprint).toBe(sha256(leaf.der));
    expect(again.fingerprint).toBe(first.fingerprint);
    expect(again.certificate?.subject).toContain("load-cache-a");
  });

  test("a buffer rewritten in place with another certificate is read again, not answered from the cache", async () => {
    const ca = await makeCa({ subject: "CN=Load Cache Root 2" });
    const a = await makeLeaf({ issuer: ca, cn: "load-cache-first" });
    // Same length, so only the bytes differ: a pooled buffer reused for the next connection's certificate.
    // (ECDSA signatures vary by a byte or two in DER, so draw until the lengths match.)
    let b = await makeLeaf({ issuer: ca, cn: "load-cache-other" });
    for (let i = 0; i < 50 && b.der.length !== a.der.length; i++) b = await makeLeaf({ issuer: ca, cn: "load-cache-other" });
    expect(b.der.length).toBe(a.der.length);
    const buffer = new Uint8Array(a.der);
    expect((await loadCertificate(buffer)).certificate?.subject).toContain("load-cache-first");
    buffer.set(b.der);
    const reread = await loadCertificate(buffer);
    expect(reread.fingerprint).toBe(sha256(b.der));
    expect(reread.certificate?.subject).toContain("load-cache-other");
  });

  test("a buffer corrupted in place is no longer a certificate", async () => {
    const ca = await makeCa({ subject: "CN=Load Cache Root 3" });
    const leaf = await makeLeaf({ issuer: ca, cn: "load-cache-corrupt" });
    const buffer = new Uint8Array(leaf.der);
    expect((await loadCertificate(buffer)).certificate).not.toBeNull();
    buffer.fill(0);
    const after = await loadCertificate(buffer);
    expect(after.certificate).toBeNull();
    expect(after.fingerprint).toBe(sha256(buffer));
  });
});

describe("loadCertificate's shared cache", () => {
  test("stays within its byte budget however many large certificates are loaded, evicting the oldest", async () => {
    const key = await generateKeys("p256");
    const padding = () => [new x509.Extension("1.3.6.1.4.1.55555.1", false, crypto.getRandomValues(new Uint8Array(15 * 1024)))];
    const first = await makeCa({ subject: "CN=load-budget-0", key, extraExtensions: padding() });
    await loadCertificate(new Uint8Array(first.der));
    let loaded = 1;
    while (loaded * 15 * 1024 < parsedCertificates.budget * 1.2) {
      const cert = await makeCa({ subject: `CN=load-budget-${loaded}`, key, extraExtensions: padding() });
      expect((await loadCertificate(new Uint8Array(cert.der))).certificate).not.toBeNull();
      loaded++;
    }
    expect(parsedCertificates.bytes).toBeLessThanOrEqual(parsedCertificates.budget);
    expect(parsedCertificates.size).toBeLessThan(loaded);
    // The first was evicted: a new object with its bytes is parsed again, and still answers the same certificate.
    const again = await loadCertificate(new Uint8Array(first.der));
    expect(again.fingerprint).toBe(sha256(first.der));
  }, 120_000);

  test("does not parse or cache a certificate over 16 KiB", async () => {
    const big = await makeCa({ subject: "CN=load-too-large", extraExtensions: [new x509.Extension("1.3.6.1.4.1.55555.1", false, new Uint8Array(17 * 1024))] });
    const before = parsedCertificates.size;
    const loaded = await loadCertificate(new Uint8Array(big.der));
    expect(loaded).toEqual({ fingerprint: sha256(big.der), certificate: null });
    expect(parsedCertificates.size).toBe(before);
  });
});
