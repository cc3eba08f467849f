/** The outbound rules of revocation fetches (PRODUCT.md §1 REVOCATION_FETCH_ALLOWED_HOSTS), against a real local HTTP server. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseAllowedHosts } from "../../src/net/allowed-hosts.ts";
import { fetchRevocationUrl } from "../../src/revocation/fetch.ts";

const ANY = parseAllowedHosts("");
const LIMITS = { maxBytes: 1024, timeoutMs: 500 };

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    switch (req.url) {
      case "/crl":
        if (req.headers["if-none-match"] === '"v1"') return res.writeHead(304).end();
        return res.writeHead(200, { etag: '"v1"', "last-modified": "Tue, 01 Dec 2026 00:00:00 GMT" }).end(Buffer.from("crl-bytes"));
      case "/huge":
        res.writeHead(200);
        for (let i = 0; i < 4; i++) res.write(Buffer.alloc(512));
        return res.end();
      case "/slow":
        res.writeHead(200);
        res.write("x");
        return void setTimeout(() => res.end("y"), 2000).unref();
      case "/error":
        return res.writeHead(500).end("no");
      case "/redirect":
        return res.writeHead(302, { location: "http://example.com/crl" }).end();
      default:
        return res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.closeAllConnections() ?? server.close());

describe("revocation fetches", () => {
  it("answers the body with its ETag and Last-Modified, and 304 to a matching If-None-Match", async () => {
    const first = await fetchRevocationUrl(`${base}/crl`, ANY, {}, LIMITS);
    expect(first).toEqual({ status: 200, body: new Uint8Array(Buffer.from("crl-bytes")), etag: '"v1"', lastModified: "Tue, 01 Dec 2026 00:00:00 GMT" });
    expect(await fetchRevocationUrl(`${base}/crl`, ANY, { etag: '"v1"' }, LIMITS)).toEqual({ status: 304 });
  });

  it("refuses a body over the byte cap", async () => {
    await expect(fetchRevocationUrl(`${base}/huge`, ANY, {}, LIMITS)).rejects.toThrow("larger than 1024 bytes");
  });

  it("gives up on a body slower than the time cap", async () => {
    await expect(fetchRevocationUrl(`${base}/slow`, ANY, {}, LIMITS)).rejects.toThrow("no complete answer within 0.5 s");
  });

  it("refuses an HTTP 500", async () => {
    await expect(fetchRevocationUrl(`${base}/error`, ANY, {}, LIMITS)).rejects.toThrow("HTTP 500");
  });

  it("does not follow a redirect to another host", async () => {
    await expect(fetchRevocationUrl(`${base}/redirect`, ANY, {}, LIMITS)).rejects.toThrow("redirect (HTTP 302), which is not followed");
  });

  it("never reaches link-local or cloud metadata addresses, in any spelling", async () => {
    for (const url of ["http://169.254.169.254/latest", "http://[fe80::1]/crl", "http://100.100.100.200/", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/", "http://metadata.google.internal/"]) {
      await expect(fetchRevocationUrl(url, ANY, {}, LIMITS)).rejects.toThrow(/link-local or cloud metadata|metadata endpoint/);
    }
    // An allow-list naming the range does not open it either.
    await expect(fetchRevocationUrl("http://169.254.169.254/", parseAllowedHosts("169.254.0.0/16"), {}, LIMITS)).rejects.toThrow("link-local");
  });

  it("checks the address a name resolves to against CIDR entries, not the name", async () => {
    // localhost resolves to a loopback address, which a CIDR allow-list must admit by address, not by name.
    await expect(fetchRevocationUrl(`${base.replace("127.0.0.1", "localhost")}/crl`, parseAllowedHosts("10.0.0.0/8"), {}, LIMITS)).rejects.toThrow(
      "is not in REVOCATION_FETCH_ALLOWED_HOSTS",
    );
    expect((await fetchRevocationUrl(`${base}/crl`, parseAllowedHosts("127.0.0.0/8"), {}, LIMITS)).status).toBe(200);
  });

  it("only fetches hosts on a non-empty allow-list, by name, glob or CIDR", async () => {
    await expect(fetchRevocationUrl(`${base}/crl`, parseAllowedHosts("crl.example.com, *.pki.example"), {}, LIMITS)).rejects.toThrow(
      "127.0.0.1 (127.0.0.1) is not in REVOCATION_FETCH_ALLOWED_HOSTS",
    );
    const byName = base.replace("127.0.0.1", "localhost");
    expect((await fetchRevocationUrl(`${byName}/crl`, parseAllowedHosts("localhost"), {}, LIMITS)).status).toBe(200);
  });

  it("only fetches http and https", async () => {
    await expect(fetchRevocationUrl("file:///etc/passwd", ANY, {}, LIMITS)).rejects.toThrow("only http and https");
    await expect(fetchRevocationUrl("ftp://127.0.0.1/crl", ANY, {}, LIMITS)).rejects.toThrow("only http and https");
  });

  it("refuses an allow-list entry that is no host, glob or CIDR", () => {
    expect(() => parseAllowedHosts("crl host!")).toThrow('"crl host!" is not a host name');
  });
});
