/**
 * Shared pieces of the reliability suites: the app built in-process by `bootstrap` (no listener), a
 * request helper that passes the peer the way every runtime adapter does, and the invariants every
 * answer must keep (the seed's error body, never a 500, never a stack trace).
 */
import { expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrap, type Service } from "../../src/server/bootstrap.ts";
import type { PeerInfo } from "../../src/http/peer.ts";
import { ADMIN_TOKEN } from "../helpers/service.ts";

export const LOGIN = "/api/v1/auth/tls-cert-auth/login";
export const SELF = "/api/v1/auth/token/self";
export const RENEW = "/api/v1/auth/token/renew";
export const REVOKE = "/api/v1/auth/token/revoke";
export const INTROSPECT = "/api/v1/auth/token/introspect";

export interface InProcess {
  service: Service;
  fetch(method: string, path: string, options?: FetchOptions): Promise<Answer>;
  admin(method: string, path: string, body?: unknown): Promise<Answer>;
  close(): Promise<void>;
}

export interface FetchOptions {
  headers?: Record<string, string>;
  /** Serialized as JSON unless a string (sent as is). */
  body?: unknown;
  peer?: Partial<PeerInfo>;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** The service's app on an in-memory database, called with `app.fetch(request, { peer })`. */
export async function inProcess(env: Record<string, string> = {}): Promise<InProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), "certauth-rel-"));
  const service = await bootstrap(
    { DATA_DIR: dataDir, DATABASE_URL: "memory://", ADMIN_TOKEN, LOG_LEVEL: "silent", LOGIN_RATE_LIMIT: "0", ...env },
    () => {},
  );
  const fetch = async (method: string, path: string, options: FetchOptions = {}): Promise<Answer> => {
    const headers = new Headers(options.headers);
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
    const peer: PeerInfo = { remoteAddress: "127.0.0.1", certificateChain: [], ...options.peer };
    const request = new Request(`https://localhost${path}`, { method, headers, body: method === "GET" || method === "HEAD" ? undefined : body });
    const res = await service.app.fetch(request, { peer });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  return {
    service,
    fetch,
    admin: (method, path, body) => fetch(method, path, { body, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
    async close() {
      await service.database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The contract's invariants for any answer: a status in `allowed`, never a 5xx, `x-request-id` on every
 * response, and on errors exactly the seed's body (`details` only on 400 and 403), without a stack trace.
 */
export function checkAnswer(res: { status: number; text: string; json: any; requestId: string | null }, allowed: readonly number[]): void {
  if (!allowed.includes(res.status)) {
    throw new Error(`status ${res.status} not in [${allowed.join(", ")}]: ${res.text.slice(0, 300)}`);
  }
  if (!res.requestId) throw new Error(`no x-request-id on a ${res.status}`);
  if (res.text.includes("    at ")) throw new Error(`stack trace in the answer: ${res.text.slice(0, 300)}`);
  if (res.status < 400) return;
  const body = res.json;
  if (!body || typeof body !== "object") throw new Error(`error ${res.status} without a JSON body: ${res.text.slice(0, 200)}`);
  const keys = Object.keys(body).sort();
  const expected = ["error", "message", "reqId", "statusCode"];
  const withDetails = [...expected, "details"].sort();
  const ok =
    JSON.stringify(keys) === JSON.stringify(expected) ||
    ((res.status === 400 || res.status === 403) && JSON.stringify(keys) === JSON.stringify(withDetails));
  if (!ok) throw new Error(`error body keys ${keys.join(",")} on ${res.status}: ${res.text.slice(0, 200)}`);
  if (body.statusCode !== res.status) throw new Error(`statusCode ${body.statusCode} differs from status ${res.status}`);
  if (body.reqId !== res.requestId) throw new Error(`reqId ${body.reqId} differs from x-request-id ${res.requestId}`);
  if (typeof body.message !== "string" || typeof body.error !== "string") throw new Error(`message/error not strings: ${res.text}`);
}

export function checkFetched(res: Answer, allowed: readonly number[]): void {
  checkAnswer({ status: res.status, text: res.text, json: res.json, requestId: res.headers.get("x-request-id") }, allowed);
}

export function checkCalled(res: { status: number; text: string; json: any; headers: Record<string, string | string[] | undefined> }, allowed: readonly number[]): void {
  const id = res.headers["x-request-id"];
  checkAnswer({ status: res.status, text: res.text, json: res.json, requestId: typeof id === "string" ? id : null }, allowed);
}

/** Payload of a JWT without checking it (tests read the jti they were given). */
export function jwtClaims(token: string): Record<string, any> {
  const part = token.split(".")[1];
  if (!part) throw new Error("not a JWT");
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

export function expectNo5xx(statuses: number[]): void {
  expect(statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);
}
