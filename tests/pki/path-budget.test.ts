import { describe, expect, it } from "bun:test";
import { compileTrust, RefusedChainCache } from "../../src/pki/index.ts";
import { loadCertificate } from "../../src/pki/lib/load.ts";
import type { ParsedCertificate } from "../../src/pki/lib/certificate.ts";
import { findPaths, MAX_CANDIDATE_ISSUERS, MAX_COPIES, MAX_PRESENTED, MAX_SIGNATURE_CHECKS, MAX_STEPS, type PathStats } from "../../src/pki/path.ts";
import { generateKeys, makeCa, makeCompleteGraph, makeLeaf, type Issued, type KeyMaterial } from "../fixtures/pki.ts";
import { check, reason, settings } from "./support.ts";

const chainMode = { verifyClientCertificateChain: true };

async function parsed(...certs: Issued[]): Promise<ParsedCertificate[]> {
  return Promise.all(certs.map(async (c) => (await loadCertificate(c.der)).certificate!));
}

/** Paths as subjects, leaf first, so a failure reads. */
const subjects = (paths: ParsedCertificate[][]) => paths.map((p) => p.map((c) => c.subject));

/**
 * 32 intermediates in which every CA has two issuers that verify it (one key, two issuer names, as a
 * cross-signed CA has): 2^8 distinct paths of 8 intermediates below the leaf, none reaching an anchor.
 */
async function doublingLadder(): Promise<{ leaf: Issued; intermediates: Issued[] }> {
  const keys: KeyMaterial[] = [];
  for (let i = 0; i <= 9; i++) keys.push(await generateKeys("p256"));
  const names = (layer: number) => [`CN=Ladder ${layer} A`, `CN=Ladder ${layer} B`];
  const intermediates: Issued[] = [];
  for (let layer = 1; layer <= 8; layer++) {
    // Signed with the key of the layer above, whose two names it names as issuer in turn.
    const above = await makeCa({ key: keys[layer + 1]! });
    for (const subject of names(layer)) {
      for (const issuerName of names(layer + 1)) {
        intermediates.push(await makeCa({ subject, key: keys[layer]!, issuer: above, issuerName }));
      }
    }
  }
  const leaf = await makeLeaf({ issuer: await makeCa({ key: keys[1]! }), issuerName: names(1)[0]!, cn: "ladder-leaf", key: keys[0]! });
  return { leaf, intermediates };
}

describe("path building budget", () => {
  it("walks the complete-graph bundle (one subject, one key, ten copies) within the step and signature budgets, and refuses it", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const trust = await compileTrust(settings(root, chainMode));
    for (const subject of [undefined, "CN=Root"]) {
      const graph = await makeCompleteGraph({ intermediates: 10, subject });
      const [leaf, ...presented] = await parsed(graph.leaf, ...graph.intermediates);
      const stats: PathStats = { steps: 0, signatureChecks: 0 };
      expect(await findPaths(trust, leaf!, presented, stats)).toEqual([]);
      expect(stats.steps).toBeGreaterThan(0);
      expect(stats.steps).toBeLessThanOrEqual(MAX_STEPS);
      expect(stats.signatureChecks).toBeLessThanOrEqual(MAX_SIGNATURE_CHECKS);
      expect(await reason(trust, [graph.leaf, ...graph.intermediates])).toBe("ca_verification_failed");
    }
  });

  it("stays within MAX_STEPS and MAX_SIGNATURE_CHECKS on 32 intermediates that form 2^8 paths, reading only MAX_PRESENTED of them", async () => {
    const { leaf, intermediates } = await doublingLadder();
    const trust = await compileTrust(settings(await makeCa({ subject: "CN=Root" }), chainMode));
    const [parsedLeaf, ...presented] = await parsed(leaf, ...intermediates);
    const stats: PathStats = { steps: 0, signatureChecks: 0 };
    expect(await findPaths(trust, parsedLeaf!, presented, stats)).toEqual([]);
    expect(stats.steps).toBeGreaterThan(MAX_PRESENTED);
    expect(stats.steps).toBeLessThanOrEqual(MAX_STEPS);
    expect(stats.signatureChecks).toBeLessThanOrEqual(MAX_SIGNATURE_CHECKS);
  });

  it("reads no more than MAX_PRESENTED presented certificates: a good intermediate sent after them is not reached", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const inter = await makeCa({ subject: "CN=Inter", issuer: root });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc" });
    const junk = await Promise.all(Array.from({ length: MAX_PRESENTED }, (_, i) => makeCa({ subject: `CN=Junk ${i}` })));
    const trust = await compileTrust(settings(root, chainMode));
    expect(await reason(trust, [leaf, ...junk.slice(1), inter])).toBe("ok");
    expect(await reason(trust, [leaf, ...junk, inter])).toBe("ca_verification_failed");
  });

  it("tries at most MAX_CANDIDATE_ISSUERS presented issuers for one certificate", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const others = await Promise.all(Array.from({ length: MAX_CANDIDATE_ISSUERS }, () => makeCa({ subject: "CN=Inter" })));
    const inter = await makeCa({ subject: "CN=Inter", issuer: root });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc" });
    const trust = await compileTrust(settings(root, chainMode));
    expect(await reason(trust, [leaf, ...others.slice(1), inter])).toBe("ok");
    const [parsedLeaf, ...presented] = await parsed(leaf, ...others, inter);
    const stats: PathStats = { steps: 0, signatureChecks: 0 };
    expect(await findPaths(trust, parsedLeaf!, presented, stats)).toEqual([]);
    expect(stats.signatureChecks).toBe(MAX_CANDIDATE_ISSUERS);
  });

  it("never passes through one subject and key twice: copies of the anchor's subject and key lead nowhere", async () => {
    const graph = await makeCompleteGraph({ intermediates: 10 });
    const anchor = graph.intermediates[0]!;
    const trust = await compileTrust(settings(anchor, chainMode));
    const [leaf, ...presented] = await parsed(graph.leaf, ...graph.intermediates);
    const paths = await findPaths(trust, leaf!, presented);
    expect(paths.map((p) => p.map((c) => c.fingerprint))).toEqual([[leaf!.fingerprint, presented[0]!.fingerprint]]);
  });

  it("still finds the path of a chain padded with complete graphs on each of its CAs' names", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const i1 = await makeCa({ subject: "CN=Inter 1", issuer: root });
    const i2 = await makeCa({ subject: "CN=Inter 2", issuer: i1 });
    const leaf = await makeLeaf({ issuer: i2, cn: "svc" });
    // As much padding as MAX_PRESENTED leaves room for beside the two real intermediates.
    const padding = [
      ...(await makeCompleteGraph({ intermediates: 2, subject: "CN=Inter 2" })).intermediates,
      ...(await makeCompleteGraph({ intermediates: 2, subject: "CN=Inter 1" })).intermediates,
      ...(await makeCompleteGraph({ intermediates: 2, subject: "CN=Root" })).intermediates,
    ];
    const trust = await compileTrust(settings(root, chainMode));
    const [parsedLeaf, ...presented] = await parsed(leaf, ...padding, i2, i1);
    expect(subjects(await findPaths(trust, parsedLeaf!, presented))).toEqual([["CN=svc", "CN=Inter 2", "CN=Inter 1", "CN=Root"]]);
    expect(await reason(trust, [leaf, ...padding, i2, i1])).toBe("ok");
  });

  it("keeps a cross-signed intermediate apart from its self-signed sibling (same subject and key, another issuer)", async () => {
    const oldRoot = await makeCa({ subject: "CN=Old Root" });
    const newKey = await generateKeys("p256");
    const newRoot = await makeCa({ subject: "CN=New Root", key: newKey });
    const crossSigned = await makeCa({ subject: "CN=New Root", key: newKey, issuer: oldRoot });
    const inter = await makeCa({ subject: "CN=Issuing", issuer: newRoot });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc" });
    expect(await reason(settings(oldRoot, chainMode), [leaf, inter, newRoot, crossSigned])).toBe("ok");
  });

  it("tries up to MAX_COPIES copies of one subject, key and issuer, so a few corrupt copies do not hide the good one", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const interKey = await generateKeys("p256");
    const inter = await makeCa({ subject: "CN=Inter", issuer: root, key: interKey });
    const forgedKey = await generateKeys("p256");
    const forged = await Promise.all(
      Array.from({ length: MAX_COPIES }, () => makeCa({ subject: "CN=Inter", issuer: root, key: interKey, signWith: forgedKey })),
    );
    const leaf = await makeLeaf({ issuer: inter, cn: "svc" });
    expect(await reason(settings(root, chainMode), [leaf, ...forged.slice(1), inter])).toBe("ok");
    // One more copy than are tried, all presented first: the budget wins over the good copy.
    expect(await reason(settings(root, chainMode), [leaf, ...forged, inter])).toBe("ca_verification_failed");
  });
});

describe("refused-chain cache", () => {
  it("answers a repeated refused chain from the cache, per configuration, until its TTL", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const graph = await makeCompleteGraph({ intermediates: 10 });
    const chain = [graph.leaf, ...graph.intermediates];
    const { refusedChains } = await import("../../src/pki/index.ts");
    const trust = await compileTrust(settings(root, chainMode));
    const now = new Date();
    const hits = refusedChains.hits;
    expect(await reason(trust, chain, now)).toBe("ca_verification_failed");
    expect(refusedChains.hits).toBe(hits);
    expect(await reason(trust, chain, now)).toBe("ca_verification_failed");
    expect(refusedChains.hits).toBe(hits + 1);
    expect(await reason(trust, chain, new Date(now.getTime() + refusedChains.ttlMs))).toBe("ca_verification_failed");
    expect(refusedChains.hits).toBe(hits + 1);
    // A new configuration (here: the chain's own CA as anchor) is a new compilation and is not refused from the cache.
    expect((await check(settings(graph.intermediates[0]!, chainMode), chain)).ok).toBe(true);
  });

  it("keys refusals by every presented certificate: a leaf refused alone logs in once it sends its intermediate", async () => {
    const root = await makeCa({ subject: "CN=Root" });
    const inter = await makeCa({ subject: "CN=Inter", issuer: root });
    const leaf = await makeLeaf({ issuer: inter, cn: "svc" });
    const trust = await compileTrust(settings(root, chainMode));
    expect(await reason(trust, [leaf])).toBe("ca_verification_failed");
    expect(await reason(trust, [leaf])).toBe("ca_verification_failed");
    expect(await reason(trust, [leaf, inter])).toBe("ok");
  });

  it("is bounded in entries and in bytes, oldest out first", () => {
    const cache = new RefusedChainCache(3, 1_000, 60_000);
    const now = new Date();
    for (let i = 0; i < 5; i++) cache.add(`k${i}`, now);
    expect(cache.size).toBe(3);
    expect(cache.has("k0", now)).toBe(false);
    expect(cache.has("k4", now)).toBe(true);
    cache.add("x".repeat(900), now);
    expect(cache.bytes).toBeLessThanOrEqual(1_000);
    expect(cache.has("k4", now)).toBe(false);
    expect(cache.has("x".repeat(900), now)).toBe(true);
  });
});
