/**
 * The node:tls → node:http bridge in-process (on Bun; tests/adapters/runtimes.test.ts drives it on all
 * three runtimes as processes): what it puts into PeerInfo, and what TLS_CLIENT_CA_FILE makes it refuse.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Agent, request } from "node:https";
import { TLSSocket } from "node:tls";
import { Hono } from "hono";
import { getPeer, type PeerBindings } from "../../src/http/peer.ts";
import { createTlsBridge } from "../../src/adapters/node-tls/bridge.ts";
import type { Listening } from "../../src/adapters/serve.ts";
import { makeSelfSignedServerCert } from "../../src/tls/self-signed.ts";
import { bundle, makeCa, makeLeaf } from "../fixtures/pki.ts";
import { call } from "../helpers/https.ts";

const root = await makeCa({ subject: "CN=Bridge Root" });
const inter = await makeCa({ subject: "CN=Bridge Intermediate", issuer: root });
const leaf = await makeLeaf({ issuer: inter, cn: "bridge-leaf" });
const stranger = await makeLeaf({ issuer: await makeCa({ subject: "CN=Bridge Stranger CA" }), cn: "stranger" });
const server = await makeSelfSignedServerCert();

const hex = (der: Uint8Array) => Buffer.from(der).toString("hex");
const app = new Hono<{ Bindings: PeerBindings }>().get("/", (c) => {
  const peer = getPeer(c);
  return c.json({ remoteAddress: peer.remoteAddress, chain: peer.certificateChain.map(hex) });
});

async function listen(clientCa: string | undefined, host: string): Promise<Listening & { url: string }> {
  const bridge = createTlsBridge((req, env) => app.fetch(req, env), {
    tls: { cert: server.certPem, key: server.keyPem, clientCa },
    requestCert: true,
    maxHeaderSize: 16 * 1024,
  });
  const listening = await bridge.listen(0, host);
  return { ...listening, url: `https://127.0.0.1:${listening.port}` };
}

describe("the bridge without TLS_CLIENT_CA_FILE", () => {
  let open: Listening & { url: string };
  beforeAll(async () => (open = await listen(undefined, "::")));
  afterAll(() => open.close());

  it("hands over the chain exactly as the client sent it, leaf first, nothing appended", async () => {
    const res = await call(open.url, "/", { cert: bundle(leaf, inter), key: leaf.keyPem });
    expect(res.json.chain).toEqual([hex(leaf.der), hex(inter.der)]);
  });

  it("accepts certificates from any CA at the handshake (each identity's CA is judged by the app)", async () => {
    const res = await call(open.url, "/", { cert: stranger.pem, key: stranger.keyPem });
    expect(res.json.chain).toEqual([hex(stranger.der)]);
  });

  it("gives an empty chain to a client without a certificate", async () => {
    expect((await call(open.url, "/")).json.chain).toEqual([]);
  });

  it("unwraps an IPv4-mapped remote address on a dual-stack listener", async () => {
    expect((await call(open.url, "/")).json.remoteAddress).toBe("127.0.0.1");
  });

  it("reads the peer chain once per connection, not once per request", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, cert: leaf.pem, key: leaf.keyPem, rejectUnauthorized: false });
    const original = TLSSocket.prototype.getPeerCertificate;
    let reads = 0;
    TLSSocket.prototype.getPeerCertificate = function (this: TLSSocket, ...args: [boolean?]) {
      reads++;
      return original.apply(this, args as [true]);
    } as typeof original;
    try {
      const get = () =>
        new Promise<string>((done, fail) => {
          const req = request(`${open.url}/`, { agent }, (res) => {
            let body = "";
            res.on("data", (c: Buffer) => (body += c.toString()));
            res.on("end", () => done(body));
          });
          req.on("error", fail);
          req.end();
        });
      const answers = [JSON.parse(await get()), JSON.parse(await get()), JSON.parse(await get())];
      for (const answer of answers) expect(answer.chain).toEqual([hex(leaf.der)]);
    } finally {
      TLSSocket.prototype.getPeerCertificate = original;
      agent.destroy();
    }
    // Client and server sockets share the prototype: three requests, one read by the server, at most one by the client.
    expect(reads).toBeLessThanOrEqual(2);
  });
});

describe("the bridge with TLS_CLIENT_CA_FILE", () => {
  let strict: Listening & { url: string };
  beforeAll(async () => (strict = await listen(root.pem, "127.0.0.1")));
  afterAll(() => strict.close());

  it("refuses, at the handshake, a client without a certificate", async () => {
    await expect(call(strict.url, "/")).rejects.toThrow();
  });

  it("refuses, at the handshake, a certificate that does not chain to the configured CAs", async () => {
    await expect(call(strict.url, "/", { cert: stranger.pem, key: stranger.keyPem })).rejects.toThrow();
    await expect(call(strict.url, "/", { cert: leaf.pem, key: leaf.keyPem })).rejects.toThrow();
  });

  it("accepts a chain to them and hands over the verified chain, which then ends in the configured root", async () => {
    const res = await call(strict.url, "/", { cert: bundle(leaf, inter), key: leaf.keyPem });
    expect(res.status).toBe(200);
    expect(res.json.chain).toEqual([hex(leaf.der), hex(inter.der), hex(root.der)]);
  });
});
