import { readFileSync } from "node:fs";
import {
  attachBody,
  attachTlsCertAuth,
  getTlsCertAuth,
  revokeTlsCertAuth,
  updateBody,
  updateTlsCertAuth,
} from "../admin/tls-cert-auth.ts";
import { crlSourceFor } from "../revocation/crls.ts";
import { OPERATOR, validate } from "./admin.ts";
import { CliError, formatRecord, output, requiredArg, stringOption, withDatabase, type Command, type CommandContext, type OptionSpec } from "./command.ts";

const settingOptions: Record<string, OptionSpec> = {
  "ca-file": { type: "string", value: "<file>", multiple: true, description: "PEM file with one or several CA certificates" },
  "crl-file": { type: "string", value: "<file>", multiple: true, description: "PEM file with one or several CRLs (no size limit here)" },
  "crl-url": { type: "string", value: "<url>", multiple: true, description: "http(s) URL of a CRL, fetched now and refreshed by the service (up to 8)" },
  "use-crl-distribution-points": { type: "boolean", description: "also check the CRLs named by the distribution points of the certificates on a verified path" },
  ocsp: { type: "boolean", description: "ask OCSP about the leaf (and in chain mode each intermediate) at login" },
  "ocsp-server": { type: "string", value: "<url>", multiple: true, description: "http(s) OCSP responder used instead of the certificate's AIA (up to 8)" },
  "ocsp-fail-open": { type: "boolean", description: "log in anyway when no responder gives a usable answer" },
  "ocsp-query-all-servers": { type: "boolean", description: "ask every responder; refuse if any says revoked" },
  "ocsp-max-retries": { type: "string", value: "<n>", description: "retries per responder, 0-10 (default 4)" },
  "ocsp-this-update-max-age": { type: "string", value: "<seconds>", description: "refuse an OCSP answer whose thisUpdate is older (default 0 = no limit)" },
  "allowed-common-names": { type: "string", value: "<a,b>", description: "allowed subject CNs, comma-separated; * globs within a label" },
  "allowed-sans": { type: "string", value: "<list>", description: "allowed SANs, comma-separated: dns:…, ip:…, email:…, uri:…" },
  "allowed-organizations": { type: "string", value: "<list>", description: "allowed subject O values, comma-separated" },
  "allowed-ous": { type: "string", value: "<list>", description: "allowed subject OU values, comma-separated" },
  "verify-chain": { type: "boolean", description: "the CAs are trust anchors; intermediates come from the client" },
  "bind-tokens": { type: "boolean", description: "issue certificate-bound tokens (RFC 8705 cnf.x5t#S256)" },
  "required-extension": { type: "string", value: "<oid:glob>", multiple: true, description: "an extension the leaf must carry: <oid>:<glob> (value as a string) or <oid>:hex:<glob> (DER in hex)" },
  "token-audience": { type: "string", value: "<aud>", multiple: true, description: "an audience of the tokens (aud claim; up to 8)" },
  "claim-mapping": { type: "string", value: "<name=source>", multiple: true, description: "a token claim from the certificate, e.g. spiffe_id=san.uri or asset=ext:1.3.6.1.4.1.55555.1" },
  "trusted-ips": { type: "string", value: "<list>", description: "IPs/CIDRs the token may be used from (default 0.0.0.0/0,::/0)" },
  ttl: { type: "string", value: "<seconds>", description: "access token TTL (default 2592000; 0 = up to the max TTL)" },
  "max-ttl": { type: "string", value: "<seconds>", description: "access token max TTL (default 2592000; 0 = no max)" },
  "num-uses": { type: "string", value: "<n>", description: "uses per token (default 0 = unlimited)" },
};

const updateOnlyOptions: Record<string, OptionSpec> = {
  "no-verify-chain": { type: "boolean", description: "turn chain verification off" },
  "no-bind-tokens": { type: "boolean", description: "stop binding new tokens to the certificate" },
  "no-crls": { type: "boolean", description: "remove every CRL" },
  "no-crl-urls": { type: "boolean", description: "remove every CRL URL" },
  "no-crl-distribution-points": { type: "boolean", description: "stop checking distribution point CRLs (and forget the stored ones)" },
  "no-ocsp": { type: "boolean", description: "stop asking OCSP" },
  "no-ocsp-servers": { type: "boolean", description: "use the certificates' AIA responders again" },
  "no-ocsp-fail-open": { type: "boolean", description: "refuse when no responder gives a usable answer" },
  "no-ocsp-query-all-servers": { type: "boolean", description: "stop at the first responder that says good" },
  "no-required-extensions": { type: "boolean", description: "remove every required extension" },
  "no-token-audiences": { type: "boolean", description: "issue tokens without aud" },
  "no-claim-mappings": { type: "boolean", description: "remove every claim mapping" },
};

const listHelp = "An empty list value (--allowed-sans '') clears that allow-list on update.";

function readPemFiles(ctx: CommandContext, name: string): string | undefined {
  const files = ctx.values[name];
  if (!Array.isArray(files) || files.length === 0) return undefined;
  return files
    .map(String)
    .map((file) => {
      try {
        return readFileSync(file, "utf8").trim();
      } catch (err) {
        throw new CliError(`cannot read --${name} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    })
    .join("\n");
}

/** "a, b" → ["a","b"]; "" → null (cleared); absent → undefined (unchanged / default). */
function list(ctx: CommandContext, name: string): string[] | null | undefined {
  const value = stringOption(ctx, name);
  if (value === undefined) return undefined;
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  return items.length ? items : null;
}

/** A repeatable option's values; `off` given → null (cleared); neither → undefined (unchanged / default). */
function repeated(ctx: CommandContext, name: string, off?: string): string[] | null | undefined {
  const values = listed(ctx, name);
  if (off && ctx.values[off] === true) {
    if (values) throw new CliError(`--${name} and --${off} contradict each other`, 2);
    return null;
  }
  return values;
}

/** --claim-mapping name=source, repeated, as the API's object. */
function claimMappings(ctx: CommandContext): Record<string, string> | null | undefined {
  const entries = repeated(ctx, "claim-mapping", "no-claim-mappings");
  if (!entries) return entries;
  const mappings: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new CliError(`--claim-mapping ${entry}: expected <name>=<source>, e.g. spiffe_id=san.uri`, 2);
    const name = entry.slice(0, eq);
    if (Object.hasOwn(mappings, name)) throw new CliError(`--claim-mapping names the claim "${name}" twice`, 2);
    mappings[name] = entry.slice(eq + 1);
  }
  return mappings;
}

function listed(ctx: CommandContext, name: string): string[] | undefined {
  const values = ctx.values[name];
  return Array.isArray(values) && values.length ? values.map(String) : undefined;
}

/** Digits become a number; anything else goes to the schema as is, which names the field in its refusal. */
function integer(ctx: CommandContext, name: string): number | string | undefined {
  const value = stringOption(ctx, name);
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : value;
}

function flag(ctx: CommandContext, on: string, off?: string): boolean | undefined {
  if (ctx.values[on] === true && off && ctx.values[off] === true) throw new CliError(`--${on} and --${off} contradict each other`, 2);
  if (ctx.values[on] === true) return true;
  if (off && ctx.values[off] === true) return false;
  return undefined;
}

/** The API body these options describe; only the options given appear in it. */
function settingsFrom(ctx: CommandContext) {
  const commonNames = stringOption(ctx, "allowed-common-names");
  const body: Record<string, unknown> = {
    caCertificate: readPemFiles(ctx, "ca-file"),
    crls: ctx.values["no-crls"] === true ? null : readPemFiles(ctx, "crl-file"),
    crlUrls: ctx.values["no-crl-urls"] === true ? null : listed(ctx, "crl-url"),
    useCrlDistributionPoints: flag(ctx, "use-crl-distribution-points", "no-crl-distribution-points"),
    ocspEnabled: flag(ctx, "ocsp", "no-ocsp"),
    ocspServersOverride: ctx.values["no-ocsp-servers"] === true ? null : listed(ctx, "ocsp-server"),
    ocspFailOpen: flag(ctx, "ocsp-fail-open", "no-ocsp-fail-open"),
    ocspQueryAllServers: flag(ctx, "ocsp-query-all-servers", "no-ocsp-query-all-servers"),
    ocspMaxRetries: integer(ctx, "ocsp-max-retries"),
    ocspThisUpdateMaxAge: integer(ctx, "ocsp-this-update-max-age"),
    allowedCommonNames: commonNames === undefined ? undefined : commonNames.trim() === "" ? null : commonNames,
    allowedSubjectAltNames: list(ctx, "allowed-sans"),
    allowedOrganizations: list(ctx, "allowed-organizations"),
    allowedOrganizationalUnits: list(ctx, "allowed-ous"),
    verifyClientCertificateChain: flag(ctx, "verify-chain", "no-verify-chain"),
    bindTokensToCertificate: flag(ctx, "bind-tokens", "no-bind-tokens"),
    requiredExtensions: repeated(ctx, "required-extension", "no-required-extensions"),
    tokenAudiences: repeated(ctx, "token-audience", "no-token-audiences"),
    claimMappings: claimMappings(ctx),
    accessTokenTrustedIps: list(ctx, "trusted-ips")?.map((ipAddress) => ({ ipAddress })),
    accessTokenTTL: integer(ctx, "ttl"),
    accessTokenMaxTTL: integer(ctx, "max-ttl"),
    accessTokenNumUsesLimit: integer(ctx, "num-uses"),
  };
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}

const count = (pem: string | null, label: RegExp) => (pem ? (pem.match(label) ?? []).length : 0);

/** The configuration without the PEM bodies, which can run to megabytes for CRLs. */
function summary(config: Awaited<ReturnType<typeof getTlsCertAuth>>) {
  const { caCertificate, crls, accessTokenTrustedIps, ...rest } = config;
  return {
    ...rest,
    caCertificate: `${count(caCertificate, /-----BEGIN CERTIFICATE-----/g)} certificate(s)`,
    crls: crls ? `${count(crls, /-----BEGIN (X509 )?CRL-----/g)} CRL(s), ${Math.ceil(crls.length / 1024)} KiB` : null,
    accessTokenTrustedIps: accessTokenTrustedIps.map((ip) => (ip.prefix === undefined ? ip.ipAddress : `${ip.ipAddress}/${ip.prefix}`)).join(", "),
  };
}

const show = (ctx: CommandContext, title: string, config: Awaited<ReturnType<typeof getTlsCertAuth>>) =>
  output(ctx, { identityTlsCertAuth: config }, () => `${title}\n${formatRecord(summary(config))}`);

export const tlsCertAuthCommands: Command[] = [
  {
    path: ["tls-cert-auth", "attach"],
    summary: "Attach TLS certificate auth to an identity.",
    args: "<identityId>",
    options: settingOptions,
    details: "--ca-file is required. CRLs of any size may be attached here; the HTTP API limits bodies to 64 KiB.",
    async run(ctx) {
      const identityId = requiredArg(ctx, 0, "identityId");
      const settings = settingsFrom(ctx);
      if (settings.caCertificate === undefined) throw new CliError("--ca-file is required", 2);
      const body = validate(attachBody, settings);
      const config = await withDatabase(ctx.env, (database, config) =>
        attachTlsCertAuth(database.db, OPERATOR, identityId, body, crlSourceFor(config)),
      );
      show(ctx, `Attached TLS cert auth to identity ${identityId}`, config);
    },
  },
  {
    path: ["tls-cert-auth", "get"],
    summary: "Show an identity's TLS certificate auth configuration (--json for the full PEM bodies).",
    args: "<identityId>",
    async run(ctx) {
      const identityId = requiredArg(ctx, 0, "identityId");
      const config = await withDatabase(ctx.env, (database) => getTlsCertAuth(database.db, OPERATOR, identityId));
      show(ctx, `TLS cert auth of identity ${identityId}`, config);
    },
  },
  {
    path: ["tls-cert-auth", "update"],
    summary: "Change some settings of an identity's TLS certificate auth; the others stay.",
    args: "<identityId>",
    options: { ...settingOptions, ...updateOnlyOptions },
    details: listHelp,
    async run(ctx) {
      const identityId = requiredArg(ctx, 0, "identityId");
      const body = validate(updateBody, settingsFrom(ctx));
      if (Object.keys(body).length === 0) throw new CliError("nothing to update: give at least one option", 2);
      const config = await withDatabase(ctx.env, (database, config) =>
        updateTlsCertAuth(database.db, OPERATOR, identityId, body, crlSourceFor(config)),
      );
      show(ctx, `Updated TLS cert auth of identity ${identityId}`, config);
    },
  },
  {
    path: ["tls-cert-auth", "revoke"],
    summary: "Detach TLS certificate auth from an identity; every token it got this way stops working.",
    args: "<identityId>",
    async run(ctx) {
      const identityId = requiredArg(ctx, 0, "identityId");
      const config = await withDatabase(ctx.env, (database) => revokeTlsCertAuth(database.db, OPERATOR, identityId));
      show(ctx, `Revoked TLS cert auth of identity ${identityId}; its tokens no longer work`, config);
    },
  },
];
