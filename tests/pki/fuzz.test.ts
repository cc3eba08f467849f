import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { TrustConfigError, compileTrust, summarizeLeaf, verifyChain } from "../../src/pki/index.ts";
import * as x509 from "../../src/pki/x509.ts";
import { makeCa, makeCrl, makeLeaf } from "../fixtures/pki.ts";
import { settings } from "./support.ts";

const root = await makeCa({ subject: "CN=Fuzz Root" });
const inter = await makeCa({ subject: "CN=Fuzz Inter", issuer: root });
const leaf = await makeLeaf({ issuer: inter, cn: "svc", sans: { dns: ["svc.example.com"], ip: ["::1"] } });
const crl = await makeCrl({ issuer: root, revoked: ["01", "02"] });
const trust = await compileTrust(settings(root, { verifyClientCertificateChain: true }));

const REASONS = new Set([
  "bad_certificate",
  "ca_verification_failed",
  "ca_certificate_not_allowed",
  "certificate_expired",
  "certificate_not_yet_valid",
  "issuer_certificate_expired",
  "issuer_certificate_not_yet_valid",
  "client_auth_usage_not_allowed",
  "issuer_client_auth_usage_not_allowed",
  "path_length_exceeded",
  "name_constraint_violation",
  "certificate_revoked",
  "crl_expired",
  "weak_signature_algorithm",
  "weak_key",
]);

/** Mutations of a valid DER: truncation, bit flips, and a length byte replaced by an oversized long form. */
const mutated = (der: Uint8Array) =>
  fc.oneof(
    fc.integer({ min: 0, max: der.length - 1 }).map((n) => der.slice(0, n)),
    fc.array(fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }).map((flips) => {
      const out = der.slice();
      for (const [i, bit] of flips) out[i]! ^= 1 << bit;
      return out;
    }),
    fc.tuple(fc.nat(Math.min(der.length - 1, 64)), fc.constantFrom(0x84, 0x88, 0xff), fc.uint8Array({ minLength: 4, maxLength: 8 })).map(
      ([i, lengthByte, tail]) => {
        const out = new Uint8Array(der.length + tail.length);
        out.set(der.slice(0, i + 1));
        out[i + 1] = lengthByte;
        out.set(tail, i + 2);
        out.set(der.slice(i + 2, der.length - tail.length + 0), i + 2 + tail.length);
        return out;
      },
    ),
  );

const anyBytes = fc.uint8Array({ maxLength: 512 });
const derLike = fc.oneof(anyBytes, mutated(leaf.der), mutated(inter.der));

async function refusesOnly(chain: Uint8Array[]) {
  const verdict = await verifyChain(trust, chain, new Date());
  if (!verdict.ok) expect(REASONS.has(verdict.reason)).toBe(true);
}

describe("fuzzing", () => {
  it("only ever refuses random, truncated, bit-flipped or oversized-length DER as a leaf", async () => {
    await fc.assert(fc.asyncProperty(derLike, async (der) => refusesOnly([der])), { numRuns: 2500 });
  });

  it("only ever refuses (or accepts through a real path) such DER as intermediates", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(derLike, { maxLength: 4 }), async (extra) => {
        const verdict = await verifyChain(trust, [leaf.der, ...extra, inter.der], new Date());
        expect(verdict.ok).toBe(true);
        await refusesOnly([leaf.der, ...extra]);
      }),
      { numRuns: 800 },
    );
  });

  it("summarizeLeaf returns a summary or null, never throws", async () => {
    await fc.assert(
      fc.asyncProperty(derLike, async (der) => {
        const s = await summarizeLeaf(der);
        expect(s === null || typeof s.fingerprint === "string").toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("compileTrust answers PEM bundles of random or damaged blocks with a TrustConfigError or a compiled trust", async () => {
    const pem = (der: Uint8Array, tag: string) => x509.PemConverter.encode(new Uint8Array(der), tag);
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      derLike.map((d) => pem(d, "CERTIFICATE")),
      fc.tuple(derLike, fc.string({ maxLength: 40 })).map(([d, s]) => root.pem + s + pem(d, "CERTIFICATE")),
    );
    const crls = fc.oneof(fc.constant(null), fc.string({ maxLength: 200 }), mutated(crl.der).map((d) => pem(d, "X509 CRL")));
    const sans = fc.oneof(fc.constant(null), fc.array(fc.string({ maxLength: 30 }), { maxLength: 3 }));
    await fc.assert(
      fc.asyncProperty(text, crls, sans, async (caCertificate, crlText, allowedSubjectAltNames) => {
        try {
          await compileTrust({ ...settings(root), caCertificate, crls: crlText, allowedSubjectAltNames });
        } catch (e) {
          expect(e).toBeInstanceOf(TrustConfigError);
        }
      }),
      { numRuns: 1500 },
    );
  });
});
