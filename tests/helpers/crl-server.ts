/** A local HTTP server of CRLs the tests make: each path serves a body with an ETag (304 on a match); it can go down, answer late, or never. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { makeCrl, type CrlOptions, type Issued } from "../fixtures/pki.ts";

export class CrlServer {
  readonly bodies = new Map<string, Uint8Array>();
  /** Requests by path. */
  readonly hits = new Map<string, number>();
  requests = 0;
  /** Requests under way now, and the most at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** Drops every connection. */
  down = false;
  /** Accepts requests and never answers. */
  silent = false;
  delayMs = 0;
  base = "";
  #server!: Server;

  async start() {
    this.#server = createServer(async (req, res) => {
      this.requests++;
      this.hits.set(req.url ?? "", (this.hits.get(req.url ?? "") ?? 0) + 1);
      if (this.down) return req.socket.destroy();
      if (this.silent) return;
      this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
      res.on("close", () => this.inFlight--);
      if (this.delayMs) await Bun.sleep(this.delayMs);
      const body = this.bodies.get(req.url ?? "");
      if (!body) return res.writeHead(404).end();
      const etag = `"${Bun.hash(body).toString(16)}"`;
      if (req.headers["if-none-match"] === etag) return res.writeHead(304).end();
      res.writeHead(200, { etag, "content-type": "application/pkix-crl" }).end(body);
    });
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.base = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  url(path: string) {
    return `${this.base}${path}`;
  }

  /** Serves at `path` a CRL of `issuer` listing `revoked` (signed by `signWith` instead when given); answers its URL. */
  async serve(
    path: string,
    issuer: Issued,
    revoked: string[] = [],
    options: { nextUpdate?: Date; thisUpdate?: Date; signWith?: Issued; extensions?: CrlOptions["extensions"] } = {},
  ) {
    const { signWith, ...rest } = options;
    this.bodies.set(path, (await makeCrl({ issuer, revoked, ...rest, signWith: signWith?.key })).der);
    return this.url(path);
  }

  stop() {
    this.#server.closeAllConnections();
    this.#server.close();
  }
}
