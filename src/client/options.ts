/**
 * How a client logs in. The certificate, key and CA each come as PEM text (`cert`) or as a file (`certFile`);
 * files are read again when they change on disk, so a rotated certificate is used for the next login.
 */
export interface ClientOptions {
  /** The server's base URL, e.g. `https://certauth.internal:8443` (a path prefix is kept). */
  url: string | URL;
  identityId: string;
  /** Scope the token to one of the identity's sub-organizations. */
  organizationSlug?: string;
  /** The client certificate (leaf first, intermediates after it), as PEM text… */
  cert?: string;
  /** …or as a file. */
  certFile?: string;
  /** The certificate's private key, as PEM text… */
  key?: string;
  /** …or as a file. */
  keyFile?: string;
  /** CA certificates that issued the server's certificate; the runtime's default roots when neither is set. */
  ca?: string;
  caFile?: string;
  /** Per request; default 30 000. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/** Where one PEM comes from. */
export type PemSource = { text: string } | { file: string };

export interface CredentialSources {
  cert: PemSource;
  key: PemSource;
  ca?: PemSource;
}

function pemSource(options: ClientOptions, name: "cert" | "key" | "ca", required: boolean): PemSource | undefined {
  const text = options[name];
  const file = options[`${name}File`];
  if (text !== undefined && file !== undefined) throw new TypeError(`certauth: give ${name} or ${name}File, not both`);
  if (text !== undefined) return { text };
  if (file !== undefined) return { file };
  if (required) throw new TypeError(`certauth: ${name} or ${name}File is required`);
  return undefined;
}

export interface Resolved {
  base: URL;
  body: { identityId: string; organizationSlug?: string };
  sources: CredentialSources;
  timeoutMs: number;
}

/** Checks the options once, up front: a mistake here is a programming error (TypeError), not a refusal. */
export function resolveOptions(options: ClientOptions): Resolved {
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new TypeError(`certauth: url ${JSON.stringify(String(options.url))} is not a URL`);
  }
  if (base.protocol !== "https:") throw new TypeError("certauth: url must be https:// (the certificate is presented over TLS)");
  if (typeof options.identityId !== "string" || options.identityId.length === 0) throw new TypeError("certauth: identityId is required");
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError("certauth: timeoutMs must be a positive number");
  const ca = pemSource(options, "ca", false);
  return {
    base,
    body: { identityId: options.identityId, ...(options.organizationSlug !== undefined ? { organizationSlug: options.organizationSlug } : {}) },
    sources: { cert: pemSource(options, "cert", true)!, key: pemSource(options, "key", true)!, ...(ca ? { ca } : {}) },
    timeoutMs,
  };
}
