import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { loadCertificate } from "../../src/pki/lib/load.ts";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";

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
