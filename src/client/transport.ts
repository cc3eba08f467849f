/**
 * Everything the client needs from its runtime, in one file: node:https, node:crypto and node:fs behave the same
 * on Bun, Deno and Node (fetch has no client-certificate option common to all three), so this is the only file
 * of certauth/client that names a runtime module.
 */
import { Buffer } from "node:buffer";
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { Agent, request } from "node:https";

/** The PEM texts a connection presents and trusts. */
export interface TlsMaterial {
  /** The leaf, optionally followed by intermediates. */
  cert: string;
  key: string;
  /** Trust for the server certificate; the runtime's default roots when absent. */
  ca?: string;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Thrown when no HTTP answer came back (connection, TLS or timeout), or the answer was over the size bound. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly oversized = false,
  ) {
    super(message);
  }
}

export interface Transport {
  post(url: URL, body: unknown, timeoutMs: number): Promise<HttpAnswer>;
  /** Drops the connections and cached TLS sessions, so that none made with this material is used again. */
  close(): void;
}

/** A login or renewal answer is a few hundred bytes; more than this is not a certauth answer. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * One agent per TLS material: its cached TLS sessions carry the certificate of the handshake that made them, so
 * after a rotation they must go with it (a resumed session would log in as the old certificate).
 */
export function httpsTransport(material: TlsMaterial): Transport {
  const agent = new Agent({ cert: material.cert, key: material.key, ca: material.ca, keepAlive: false });
  return {
    post: (url, body, timeoutMs) => post(agent, url, body, timeoutMs),
    close: () => agent.destroy(),
  };
}

function post(agent: Agent, url: URL, body: unknown, timeoutMs: number): Promise<HttpAnswer> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: TransportError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const req = request(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json", accept: "application/json", "content-length": String(Buffer.byteLength(payload)) } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) return fail(new TransportError(`the answer from ${url.host} is over ${MAX_ANSWER_BYTES} bytes`, true));
          chunks.push(chunk);
        });
        res.on("end", () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", (err) => fail(new TransportError(err.message)));
      },
    );
    const timer = setTimeout(() => fail(new TransportError(`no answer from ${url.host} within ${timeoutMs} ms`)), timeoutMs);
    req.on("error", (err: Error & { code?: string }) => fail(new TransportError(err.code ? `${err.code}: ${err.message}` : err.message)));
    req.end(payload);
  });
}

/**
 * Checks that `cert` starts with a certificate whose public key is `key`'s (a half-rotated pair fails here, not
 * in a handshake) and answers the SHA-256 hex of the leaf's DER, the fingerprint the server audits.
 */
export function leafFingerprint(material: TlsMaterial): string {
  const leaf = new X509Certificate(material.cert);
  if (!leaf.checkPrivateKey(createPrivateKey(material.key))) throw new Error("the private key does not belong to the certificate");
  return createHash("sha256").update(leaf.raw).digest("hex");
}

export const readText = (path: string): Promise<string> => readFile(path, "utf8");

/**
 * What changes when a file is rewritten in place, renamed over, or reached through a swapped symlink (stat
 * follows links): cert-manager, SPIRE and step each do one of these.
 */
export async function fileStamp(path: string): Promise<string> {
  const s = await stat(path);
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}
