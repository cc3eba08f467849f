import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * node:http → a standard Request, which every runtime's middleware accepts as its own. The body is read up to
 * `maxBody` + 1 bytes: enough for the app to answer 413 in its own error format, never buffering more.
 */
export function toWebRequest(incoming: IncomingMessage, maxBody: number): Promise<{ request: Request; truncated: boolean }> {
  const method = incoming.method ?? "GET";
  const headers = new Headers();
  const raw = incoming.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const url = `https://${safeHost(headers.get("host"))}${incoming.url?.startsWith("/") ? incoming.url : "/"}`;
  if (method === "GET" || method === "HEAD") {
    incoming.resume();
    return Promise.resolve({ request: new Request(url, { method, headers }), truncated: false });
  }
  return readBody(incoming, maxBody).then(({ body, truncated }) => {
    // The body is in memory now: its length is known, so the app's body limit checks the header instead of
    // streaming a chunked body through again (past the cap, the length says over the limit: a 413).
    headers.delete("transfer-encoding");
    headers.set("content-length", String(body.length));
    return { request: new Request(url, { method, headers, body }), truncated };
  });
}

/**
 * The body, up to `maxBody` + 1 bytes, with plain listeners (an async iterator costs a promise per chunk).
 * Past the limit reading stops; the response then closes the connection (see writeWebResponse).
 */
function readBody(incoming: IncomingMessage, maxBody: number): Promise<{ body: Uint8Array<ArrayBuffer>; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    if (incoming.destroyed) return reject(new Error("request closed before its body was read"));
    const chunks: Uint8Array[] = [];
    let size = 0;
    const done = (truncated: boolean) => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("error", onError);
      incoming.off("close", onClose);
      // A late error (the client going away) has nobody left to tell.
      incoming.on("error", ignore);
      // The rest of an oversized body is left unread; the answer closes the connection.
      if (truncated) incoming.pause();
      resolve({ body: concat(chunks, size), truncated });
    };
    const onData = (chunk: Uint8Array) => {
      size += chunk.length;
      chunks.push(chunk);
      if (size > maxBody) done(true);
    };
    const onEnd = () => done(false);
    const fail = (err: Error) => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("close", onClose);
      reject(err);
    };
    const onError = (err: Error) => fail(err);
    // Closed before its end (the client went away): the body is incomplete.
    const onClose = () => fail(new Error("request body ended prematurely"));
    incoming.on("data", onData);
    incoming.on("end", onEnd);
    incoming.on("error", onError);
    incoming.on("close", onClose);
  });
}

export async function writeWebResponse(response: Response, outgoing: ServerResponse, closeConnection: boolean): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  let cookies = false;
  response.headers.forEach((value, name) => {
    if (name === "set-cookie") cookies = true;
    else headers[name] = value;
  });
  if (cookies) headers["set-cookie"] = response.headers.getSetCookie();
  // The rest of an oversized body is never read, so this connection cannot carry another request.
  if (closeConnection) headers.connection = "close";
  const body = response.body ? new Uint8Array(await response.arrayBuffer()) : undefined;
  if (body) headers["content-length"] = String(body.length);
  // Head and body in one socket write (one TLS record, one syscall): Bun's node:http writes them separately.
  const socket = outgoing.socket;
  socket?.cork();
  outgoing.writeHead(response.status, headers);
  outgoing.end(body);
  socket?.uncork();
}

function ignore(): void {}

function concat(chunks: Uint8Array[], size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** The Host header only names the URL's authority; anything odd falls back to localhost. */
function safeHost(host: string | null): string {
  return host && /^[A-Za-z0-9.\-:[\]]{1,255}$/.test(host) ? host : "localhost";
}
