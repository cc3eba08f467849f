/** Envoy `x-forwarded-client-cert`: `Cert="…"`, `Chain="…"`, elements added proxy by proxy. */
import { badRequest } from "../../errors.ts";
import { notDecodable, urlDecode, type Bytes } from "./common.ts";
import { decodePemBundle } from "./pem.ts";

export const XFCC_KEY = /^\s*(?:By|Hash|Cert|Chain|Subject|URI|DNS)=/i;

/** The last element is the one the nearest proxy added; its Cert is the leaf, Chain the whole chain. */
export function decodeXfcc(value: string): Bytes[] {
  const elements = splitOutsideQuotes(value, ",");
  const last = elements[elements.length - 1];
  if (last === undefined) throw notDecodable();
  const fields = new Map<string, string>();
  for (const pair of splitOutsideQuotes(last, ";")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw notDecodable();
    fields.set(pair.slice(0, eq).trim().toLowerCase(), unquote(pair.slice(eq + 1).trim()));
  }
  const cert = fields.get("cert");
  const chainPem = fields.get("chain");
  if (!cert && !chainPem) throw badRequest("The forwarded client certificate element carries neither Cert nor Chain.");
  const chain = chainPem ? decodePemBundle(urlDecode(chainPem)) : [];
  if (!cert) return chain;
  const leaf = decodePemBundle(urlDecode(cert));
  if (leaf.length !== 1) throw badRequest("The forwarded Cert field must hold exactly one certificate.");
  const [leafDer] = leaf as [Bytes];
  return [leafDer, ...chain.filter((der) => !sameBytes(der, leafDer))];
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted && ch === "\\" && i + 1 < text.length) {
      current += ch + text[++i];
    } else if (ch === '"') {
      quoted = !quoted;
      current += ch;
    } else if (ch === separator && !quoted) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  if (quoted) throw notDecodable();
  parts.push(current);
  return parts.map((p) => p.trim()).filter(Boolean);
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1).replace(/\\(.)/g, "$1");
  return value;
}

function sameBytes(a: Bytes, b: Bytes): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
