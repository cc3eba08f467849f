/**
 * The OCSP answer cache is bounded by bytes: each entry keeps the parsed status and times and is charged its key,
 * whose responder URL may be long (up to 2,048 characters in ocspServersOverride, unbounded in a certificate's
 * AIA), so many long-URL answers cannot hold more than the budget. Real signed answers from a responder of the
 * test, through the client a login uses.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { OcspClient } from "../../src/revocation/ocsp.ts";
import { parseAllowedHosts } from "../../src/net/allowed-hosts.ts";
import { parseCertificate } from "../../src/pki/lib/certificate.ts";
import { sha256Hex } from "../../src/pki/lib/digest.ts";
import type { OcspSettings } from "../../src/pki/types.ts";
import { signedAnswer, startResponder, type Responder } from "../helpers/ocsp-responder.ts";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";

const root = await makeCa({ subject: "CN=OCSP Cache Root" });
const leaf = await makeLeaf({ issuer: root, cn: "cached" });
const issuer = parseCertificate(root.der, await sha256Hex(root.der));
const cert = parseCertificate(leaf.der, await sha256Hex(leaf.der));
const BUDGET = 64 * 1024;

let responder: Responder;
beforeAll(async () => {
  responder = await startResponder((der) => signedAnswer(der, { signer: root }));
});
afterAll(() => responder?.close());

/** One responder URL of about `length` characters: the path tells them apart, the responder answers them all. */
const urlOf = (i: number, length = 2000) => `${responder.base}/${String(i).padStart(8, "0")}${"p".repeat(length - responder.base.length - 10)}`;

async function ask(client: OcspClient, url: string) {
  const settings: OcspSettings = { serversOverride: [url], failOpen: false, queryAllServers: false, maxRetries: 0, thisUpdateMaxAge: 0 };
  return client.status(cert, issuer, settings, new Date(), Date.now() + 5_000);
}

describe("the OCSP answer cache", () => {
  it("serves a cached answer without asking the responder again", async () => {
    const client = new OcspClient(parseAllowedHosts(""), undefined, BUDGET);
    const before = responder.requests;
    expect((await ask(client, urlOf(0))).status).toBe("good");
    expect((await ask(client, urlOf(0))).status).toBe("good");
    expect(responder.requests - before).toBe(1);
    expect(client.cachedBytes).toBeGreaterThan(4000);
  });

  it("holds at most its byte budget of long-URL answers, the least recently used going first", async () => {
    const client = new OcspClient(parseAllowedHosts(""), undefined, BUDGET);
    // 100 answers of 2,000-character URLs: about 400 KB of keys, six times the budget.
    for (let i = 0; i < 100; i++) {
      expect((await ask(client, urlOf(i))).status).toBe("good");
      expect(client.cachedBytes).toBeLessThanOrEqual(BUDGET);
    }
    expect(client.cachedBytes).toBeGreaterThan(BUDGET / 2);
    const before = responder.requests;
    await ask(client, urlOf(99));
    expect(responder.requests).toBe(before);
    await ask(client, urlOf(0));
    expect(responder.requests).toBe(before + 1);
  });

  it("does not keep an answer whose key alone is past the budget", async () => {
    const client = new OcspClient(parseAllowedHosts(""), undefined, 4096);
    const before = responder.requests;
    await ask(client, urlOf(0, 3000));
    await ask(client, urlOf(0, 3000));
    expect(responder.requests - before).toBe(2);
    expect(client.cachedBytes).toBe(0);
  });
});
