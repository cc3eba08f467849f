import { z } from "zod";
import { parseCidr, type Cidr } from "./net/ip.ts";
import { parseAllowedHosts } from "./net/allowed-hosts.ts";

/** Parsed once at start; nothing else reads the environment. */
export type Config = z.infer<typeof configSchema>;

const intFrom = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const optionalPath = z.string().min(1).optional();

/** A CIDR list such as "10.0.0.0/8, ::1"; a bare address means a single host. */
export const cidrList = z
  .string()
  .default("")
  .transform((value, ctx) => {
    const out: Cidr[] = [];
    for (const raw of value.split(",").map((s) => s.trim()).filter(Boolean)) {
      try {
        out.push(parseCidr(raw));
      } catch {
        ctx.addIssue({ code: "custom", message: `"${raw}" is not an IP address or CIDR range` });
        return z.NEVER;
      }
    }
    return out;
  });

const certSources = z
  .string()
  .default("tls")
  .transform((v) => v.split(",").map((s) => s.trim()))
  .pipe(z.array(z.enum(["tls", "header"])).min(1))
  .transform((list) => ({ tls: list.includes("tls"), header: list.includes("header") }));

export const configSchema = z.object({
  PORT: intFrom(0, 65535).default(8443),
  HOST: z.string().min(1).default("0.0.0.0"),
  DATA_DIR: z.string().min(1).default("./data"),
  DATABASE_URL: z
    .string()
    .refine((v) => /^(postgres|postgresql):\/\//.test(v) || v === "memory://", "must be postgres://… or memory://")
    .optional(),
  TLS_CERT_FILE: optionalPath,
  TLS_KEY_FILE: optionalPath,
  TLS_CLIENT_CA_FILE: optionalPath,
  ADMIN_TOKEN: z.string().min(32, "must be at least 32 characters").optional(),
  AUTH_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  TOKEN_SIGNING_ALG: z.enum(["EdDSA", "ES256", "RS256", "HS256"]).default("EdDSA"),
  ISSUER_URL: z
    .string()
    .max(256, "must be at most 256 characters")
    .refine(isIssuerUrl, "must be an https URL without query, fragment, credentials or trailing slash")
    .optional(),
  KEY_ENCRYPTION_KEY: z.string().min(32, "must be at least 32 characters").optional(),
  CLIENT_CERT_SOURCE: certSources,
  CLIENT_CERT_HEADER: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, "must be an HTTP header name")
    .transform((s) => s.toLowerCase())
    .default("x-identity-tls-cert-auth-client-cert"),
  TRUSTED_PROXIES: cidrList,
  LOGIN_RATE_LIMIT: intFrom(0, 1_000_000).default(200),
  MAX_TOKEN_TTL: intFrom(1, 315_360_000).default(7_776_000),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  CRL_REFRESH_INTERVAL: intFrom(1, 31_536_000).default(3600),
  REVOCATION_FETCH_ALLOWED_HOSTS: z
    .string()
    .default("")
    .transform((value, ctx) => {
      try {
        return parseAllowedHosts(value);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    }),
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
});

/**
 * OpenID Connect issuers are https URLs compared as exact strings, and discovery appends
 * "/.well-known/openid-configuration" to them: so no query, fragment or credentials, and no trailing slash.
 */
function isIssuerUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === "https:" && !url.search && !url.hash && !url.username && !url.password && !value.endsWith("/") && !value.includes("?") && !value.includes("#");
}

/** The `iss` of the tokens: ISSUER_URL, or https://localhost:<PORT> when it is unset (a local default). */
export const issuerUrl = (config: Pick<Config, "ISSUER_URL" | "PORT">): string => config.ISSUER_URL ?? `https://localhost:${config.PORT}`;

export class ConfigError extends Error {}

/** Empty strings count as unset, as in most twelve-factor tools. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== "") input[key] = value;
  }
  const alias = env.IDENTITY_TLS_CERT_AUTH_CLIENT_CERTIFICATE_HEADER_KEY;
  if (input.CLIENT_CERT_HEADER === undefined && alias) input.CLIENT_CERT_HEADER = alias;
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? "configuration");
    throw new ConfigError(`invalid ${name}: ${issue.message}`);
  }
  const config = parsed.data;
  if (Boolean(config.TLS_CERT_FILE) !== Boolean(config.TLS_KEY_FILE)) {
    throw new ConfigError("invalid TLS_CERT_FILE/TLS_KEY_FILE: set both or neither");
  }
  return config;
}
