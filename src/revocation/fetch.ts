import { lookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import ipaddr from "ipaddr.js";
import { ipInRanges, parseCidr, readIp, unmapIpv4, type Cidr } from "../net/ip.ts";
import type { AllowedHosts } from "../net/allowed-hosts.ts";

/**
 * A CRL larger than this is refused: decoding holds about 240 bytes of memory per byte of CRL at its peak, so
 * 1 MiB (about 36,000 entries) peaks near 250 MiB, the most one tenant's CRL may take from a 512 MiB container.
 */
export const MAX_CRL_BYTES = 1024 * 1024;
/** The whole fetch, connection to last byte. */
export const FETCH_TIMEOUT_MS = 10_000;

/** Link-local and cloud metadata addresses: never reachable by a revocation fetch, whatever the allow-list says. */
const FORBIDDEN_RANGES: readonly Cidr[] = ["169.254.0.0/16", "fe80::/10", "100.100.100.200", "fd00:ec2::254"].map(parseCidr);
const FORBIDDEN_NAMES = new Set(["metadata.google.internal", "metadata.google.internal."]);

export class FetchRefused extends Error {}

export interface Conditional {
  etag?: string | null;
  lastModified?: string | null;
}

export type FetchResult =
  | { status: 200; body: Uint8Array<ArrayBuffer>; etag: string | null; lastModified: string | null }
  | { status: 304 };

export interface FetchLimits {
  maxBytes: number;
  timeoutMs: number;
}

/**
 * GET of a revocation URL under the outbound rules: http/https only, a host the allow-list admits, a resolved
 * address that is neither link-local nor a metadata endpoint (the connection goes to that checked address, so
 * a second DNS answer cannot redirect it), a byte cap, a time cap, and no redirects. Throws FetchRefused with
 * a sentence naming the reason.
 */
export async function fetchRevocationUrl(
  url: string,
  allowed: AllowedHosts,
  conditional: Conditional = {},
  limits: FetchLimits = { maxBytes: MAX_CRL_BYTES, timeoutMs: FETCH_TIMEOUT_MS },
): Promise<FetchResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new FetchRefused("it is not a URL");
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") throw new FetchRefused("only http and https URLs are fetched");
  const host = target.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const started = Date.now();
  const address = await withinTime(resolveAllowed(host, allowed), limits.timeoutMs, `${host} did not resolve within ${limits.timeoutMs / 1000} s`);
  const remainingMs = Math.max(1, limits.timeoutMs - (Date.now() - started));
  const headers: Record<string, string> = { host: target.host, accept: "application/pkix-crl, */*" };
  if (conditional.etag) headers["if-none-match"] = conditional.etag;
  if (conditional.lastModified) headers["if-modified-since"] = conditional.lastModified;
  const client = target.protocol === "https:" ? https : http;
  return new Promise<FetchResult>((resolve, reject) => {
    const fail = (message: string) => {
      request.destroy();
      reject(new FetchRefused(message));
    };
    const timer = setTimeout(() => fail(`no complete answer within ${limits.timeoutMs / 1000} s`), remainingMs);
    const request = client.request(
      {
        host: address,
        port: target.port || (target.protocol === "https:" ? 443 : 80),
        path: `${target.pathname}${target.search}`,
        method: "GET",
        headers,
        ...(readIp(host) ? {} : { servername: host }),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        if (status === 304) {
          clearTimeout(timer);
          response.destroy();
          return resolve({ status: 304 });
        }
        if (status >= 300 && status < 400) return fail(`it answered a redirect (HTTP ${status}), which is not followed`);
        if (status !== 200) return fail(`it answered HTTP ${status}`);
        const declared = Number(response.headers["content-length"]);
        if (declared > limits.maxBytes) return fail(`the body is larger than ${limits.maxBytes} bytes`);
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > limits.maxBytes) return fail(`the body is larger than ${limits.maxBytes} bytes`);
          chunks.push(chunk);
        });
        response.on("end", () => {
          clearTimeout(timer);
          if (size > limits.maxBytes) return;
          const body = new Uint8Array(size);
          let at = 0;
          for (const chunk of chunks) {
            body.set(chunk, at);
            at += chunk.length;
          }
          resolve({ status: 200, body, etag: headerOf(response.headers.etag), lastModified: headerOf(response.headers["last-modified"]) });
        });
        response.on("error", (err) => fail(err.message));
      },
    );
    request.on("error", (err) => {
      clearTimeout(timer);
      reject(new FetchRefused(err.message));
    });
    request.end();
  });
}

/** The time cap covers the DNS lookup too: a resolver that never answers must not hold a login past its budget. */
function withinTime<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FetchRefused(message)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

function headerOf(value: string | string[] | undefined): string | null {
  return typeof value === "string" && value.length <= 1024 ? value : null;
}

/** The address to connect to: every address the name resolves to must be allowed. */
async function resolveAllowed(host: string, allowed: AllowedHosts): Promise<string> {
  if (FORBIDDEN_NAMES.has(host)) throw new FetchRefused(`${host} is a cloud metadata endpoint`);
  const literal = readIp(host);
  const addresses = literal ? [literal.toString()] : await resolve(host);
  const open = !allowed.names.length && !allowed.ranges.length;
  const nameAllowed = allowed.names.some((matches) => matches(host));
  for (const address of addresses) {
    const ip = unmapIpv4(ipaddr.parse(address)).toString();
    if (ipInRanges(ip, FORBIDDEN_RANGES)) throw new FetchRefused(`${host} resolves to ${ip}, a link-local or cloud metadata address`);
    if (!open && !nameAllowed && !ipInRanges(ip, allowed.ranges)) {
      throw new FetchRefused(`${host} (${ip}) is not in REVOCATION_FETCH_ALLOWED_HOSTS`);
    }
  }
  return addresses[0]!;
}

async function resolve(host: string): Promise<string[]> {
  try {
    const found = await lookup(host, { all: true });
    if (found.length) return found.map((entry) => entry.address);
  } catch {}
  throw new FetchRefused(`${host} does not resolve`);
}
