/**
 * The service's CRL decoder on its own: decoded once by content within a byte budget, large CRLs in a worker thread
 * whose queue and time per decode are bounded.
 */
import { describe, expect, it } from "bun:test";
import { compileCrl, CrlDecodeRefused, decodeCrl, decodedCharge, TrustConfigError } from "../../src/pki/index.ts";
import { CrlDecoding } from "../../src/revocation/crl-decoding.ts";
import { Metrics } from "../../src/metrics/registry.ts";
import { parseCertificate } from "../../src/pki/lib/certificate.ts";
import { sha256Hex } from "../../src/pki/lib/digest.ts";
import { makeCa, makeCrlDer, makeLeaf } from "../fixtures/pki.ts";

const ca = await makeCa({ subject: "CN=Decoder CA" });
const anchor = parseCertificate(ca.der, await sha256Hex(ca.der));
const serials = (count: number, from = 0x10000) => Array.from({ length: count }, (_, i) => (from + i).toString(16));
const crlOf = (count: number, from?: number) => makeCrlDer({ issuer: ca, revoked: serials(count, from) });

describe("CrlDecoding", () => {
  it("decodes in the worker what the event loop decodes, and the compiled CRL finds exactly the listed serials", async () => {
    const der = await crlOf(2_000);
    const metrics = new Metrics();
    const decoding = new CrlDecoding(metrics, { workerFromBytes: 0 });
    try {
      const there = await decoding.decode(der);
      expect(metrics.crlDecodes.get("worker")).toBe(1);
      expect(there).toEqual(decodeCrl(der));
      const crl = await compileCrl(der, "CRL #1", new Map([[there.issuerKey, [anchor]]]), decoding.decode);
      expect(metrics.crlDecodes.get("worker")).toBe(1);
      expect(crl.signedByAnchors.has(anchor.fingerprint)).toBe(true);
      expect(crl.revoked.size).toBe(2_000);
      for (const serial of serials(2_000)) expect(crl.revoked.has(serial)).toBe(true);
      for (const serial of ["0", "ffff", (0x10000 + 2_000).toString(16), "1000", "100000"]) expect(crl.revoked.has(serial)).toBe(false);
      const leaf = await makeLeaf({ issuer: ca, cn: "not-listed" });
      expect(crl.revoked.has(leaf.serial)).toBe(false);
    } finally {
      decoding.close();
    }
  });

  it("does not decode the same bytes twice while they are cached, and keeps no more than its byte budget", async () => {
    const [a, b] = [await crlOf(300), await crlOf(300, 0x20000)];
    const charge = decodedCharge(decodeCrl(a));
    const metrics = new Metrics();
    const decoding = new CrlDecoding(metrics, { cacheBytes: Math.floor(charge * 1.5) });
    await Promise.all([decoding.decode(a), decoding.decode(a)]);
    await decoding.decode(a);
    expect(metrics.crlDecodes.get("event_loop")).toBe(1);
    await decoding.decode(b);
    expect(metrics.crlDecodes.get("event_loop")).toBe(2);
    expect(decoding.cachedBytes).toBeLessThanOrEqual(Math.floor(charge * 1.5));
    await decoding.decode(b);
    expect(metrics.crlDecodes.get("event_loop")).toBe(2);
    // `a` was evicted to make room for `b`.
    await decoding.decode(a);
    expect(metrics.crlDecodes.get("event_loop")).toBe(3);
  });

  it("stops a decode past its time cap with a sentence, starts a new worker for the next one, and caches no failure", async () => {
    const [big, other] = await Promise.all([crlOf(20_000), crlOf(20_000, 0x90000)]);
    const metrics = new Metrics();
    const decoding = new CrlDecoding(metrics, { workerFromBytes: 0, timeCapMs: 1 });
    try {
      // Both asked at once, so that neither is refused (the cap runs from the worker's start) before it is awaited.
      const [first, second] = await Promise.allSettled([decoding.decode(big!), decoding.decode(other!)]);
      for (const result of [first, second]) {
        expect(result.status).toBe("rejected");
        expect((result as PromiseRejectedResult).reason).toBeInstanceOf(CrlDecodeRefused);
        expect((result as PromiseRejectedResult).reason.message).toBe("was not decoded within 0.001 s");
      }
      const compiled = compileCrl(big, "CRL #1", new Map(), decoding.decode);
      await expect(compiled).rejects.toBeInstanceOf(TrustConfigError);
      await expect(compiled).rejects.toThrow("CRL #1 was not decoded within 0.001 s.");
      expect(metrics.crlDecodes.get("worker")).toBe(3);
    } finally {
      decoding.close();
    }
  });

  it("refuses a CRL at once when its queue is full", async () => {
    const decoding = new CrlDecoding(new Metrics(), { workerFromBytes: 0, queueLimit: 1 });
    try {
      const ders = [await crlOf(1_000), await crlOf(1_000, 0x30000), await crlOf(1_000, 0x40000)];
      const results = await Promise.allSettled(ders.map((der) => decoding.decode(der)));
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
      expect((results[2] as PromiseRejectedResult).reason.message).toBe("could not be decoded now: 1 CRLs are waiting to be decoded; try again later");
    } finally {
      decoding.close();
    }
  });

  it("gives each tenant a few places in its queue and serves tenants in turn", async () => {
    const decoding = new CrlDecoding(new Metrics(), { workerFromBytes: 0, queueLimit: 4, tenantQueueLimit: 2 });
    try {
      const finished: string[] = [];
      const submit = (tenant: string, name: string, der: Uint8Array<ArrayBuffer>) =>
        decoding.decoderFor(tenant)(der).then(
          () => void finished.push(name),
          (err: Error) => {
            finished.push(`${name} refused`);
            throw err;
          },
        );
      const ders = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => crlOf(1_000, 0x100000 * (i + 1))));
      // a1 is taken at once; a2 and a3 fill tenant a's two places; a4 is refused although the queue has room.
      const a = [submit("a", "a1", ders[0]!), submit("a", "a2", ders[1]!), submit("a", "a3", ders[2]!)];
      const a4 = submit("a", "a4", ders[3]!);
      await expect(a4).rejects.toBeInstanceOf(CrlDecodeRefused);
      await expect(a4).rejects.toThrow("could not be decoded now: 2 CRLs of this organization are waiting to be decoded; try again later");
      // Another tenant still gets in, and waits for one of a's, not for both.
      const b = [submit("b", "b1", ders[4]!), decoding.decode(ders[5]!).then(() => void finished.push("service"))];
      await Promise.all([...a, ...b]);
      expect(finished).toEqual(["a4 refused", "a1", "a2", "b1", "service", "a3"]);
    } finally {
      decoding.close();
    }
  });

  it("past its global limit still takes one CRL of a tenant with none waiting", async () => {
    const decoding = new CrlDecoding(new Metrics(), { workerFromBytes: 0, queueLimit: 1 });
    try {
      const [x1, x2, x3, y1] = await Promise.all([0, 1, 2, 3].map((i) => crlOf(1_000, 0x100000 * (i + 1))));
      const x = decoding.decoderFor("x");
      const taken = [x(x1!), x(x2!)];
      await expect(x(x3!)).rejects.toThrow("could not be decoded now: 1 CRLs are waiting to be decoded; try again later");
      // y gets in with nothing waiting; past twice the limit, nobody does.
      const y = decoding.decoderFor("y")(y1!);
      await expect(decoding.decoderFor("z")(x3!)).rejects.toThrow("could not be decoded now: 2 CRLs are waiting to be decoded; try again later");
      await Promise.all([...taken, y]);
    } finally {
      decoding.close();
    }
  });

  it("shares a decode under way with callers of its own tenant only: another's is neither refused with it nor kept in its line", async () => {
    const decoding = new CrlDecoding(new Metrics(), { workerFromBytes: 0, tenantQueueLimit: 2 });
    try {
      const [a1, a2, shared, extra] = await Promise.all([0, 1, 2, 3].map((i) => crlOf(1_000, 0x100000 * (i + 1))));
      const [a, b] = [decoding.decoderFor("a"), decoding.decoderFor("b")];
      const finished: string[] = [];
      const done = (name: string) => () => void finished.push(name);
      // a1 is decoded at once; a2 and `shared` fill a's two places; b asks for `shared` too, then a and b for `extra`.
      const [, , , , refused, taken] = await Promise.allSettled([
        a(a1!).then(done("a1")),
        a(a2!).then(done("a2")),
        a(shared!).then(done("a: shared")),
        b(shared!).then(done("b: shared")),
        a(extra!).then(done("a: extra")),
        b(extra!).then(done("b: extra")),
      ]);
      // a's refusal is a's alone: b, asking for the same bytes in the same turn, gets in.
      expect(refused.status).toBe("rejected");
      expect((refused as PromiseRejectedResult).reason.message).toBe("could not be decoded now: 2 CRLs of this organization are waiting to be decoded; try again later");
      expect(taken.status).toBe("fulfilled");
      // b's `shared` took b's own turn, before the end of a's line.
      expect(finished).toEqual(["a1", "a2", "b: shared", "a: shared", "b: extra"]);
    } finally {
      decoding.close();
    }
  });

  it("answers a waiting CRL from the cache when another tenant's decode of the same bytes finished first", async () => {
    const metrics = new Metrics();
    const decoding = new CrlDecoding(metrics, { workerFromBytes: 0 });
    try {
      const [first, same] = await Promise.all([crlOf(1_000, 0x100000), crlOf(1_000, 0x200000)]);
      const [a, b] = [decoding.decoderFor("a"), decoding.decoderFor("b")];
      // `first` is decoded; a's and b's requests for `same` wait, each in its own tenant's place.
      const [, ofA, ofB] = await Promise.all([a(first!), a(same!), b(same!)]);
      expect(ofB).toEqual(ofA);
      expect(metrics.crlDecodes.get("worker")).toBe(2);
    } finally {
      decoding.close();
    }
  });

  it("once closed, refuses what waits and what comes, and decodes none of it", async () => {
    const decoding = new CrlDecoding(new Metrics(), { workerFromBytes: 0 });
    const ders = await Promise.all([0, 1, 2, 3].map((i) => crlOf(5_000, 0x100000 * (i + 1))));
    const before = ders.slice(0, 3).map((der) => decoding.decode(der));
    // Let them reach the queue (each is hashed first): one decoding, two waiting.
    await new Promise((resolve) => setTimeout(resolve, 200));
    decoding.close();
    const settled = await Promise.allSettled([...before, decoding.decode(ders[3]!)]);
    expect(settled.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected", "rejected"]);
    for (const r of settled) expect((r as PromiseRejectedResult).reason.message).toBe("could not be decoded: the service is stopping");
  });

  it("answers a body that is not a CRL as undecodable, from the worker too", async () => {
    const decoding = new CrlDecoding(new Metrics(), { workerFromBytes: 0 });
    try {
      const junk = new Uint8Array(20_000).fill(0x30);
      await expect(compileCrl(junk, "CRL #2", new Map(), decoding.decode)).rejects.toThrow("CRL #2 could not be decoded as an X.509 CRL.");
    } finally {
      decoding.close();
    }
  });
});
