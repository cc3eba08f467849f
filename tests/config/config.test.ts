import { describe, expect, it } from "bun:test";
import { spawnSync } from "node:child_process";
import { ConfigError, issuerUrl, loadConfig } from "../../src/config.ts";

describe("configuration", () => {
  it("applies the contract's defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 8443,
      HOST: "0.0.0.0",
      DATA_DIR: "./data",
      TOKEN_SIGNING_ALG: "EdDSA",
      CLIENT_CERT_SOURCE: { tls: true, header: false },
      CLIENT_CERT_HEADER: "x-identity-tls-cert-auth-client-cert",
      TRUSTED_PROXIES: [],
      LOGIN_RATE_LIMIT: 200,
      MAX_TOKEN_TTL: 7776000,
      LOG_LEVEL: "info",
    });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it("takes RS256, and ISSUER_URL as given or https://localhost:<PORT> by default", () => {
    expect(issuerUrl(loadConfig({}))).toBe("https://localhost:8443");
    expect(issuerUrl(loadConfig({ PORT: "9443" }))).toBe("https://localhost:9443");
    expect(issuerUrl(loadConfig({ ISSUER_URL: "https://certauth.example.com/tenants/a" }))).toBe("https://certauth.example.com/tenants/a");
    expect(loadConfig({ TOKEN_SIGNING_ALG: "RS256" }).TOKEN_SIGNING_ALG).toBe("RS256");
  });

  it("accepts the Infisical alias for the certificate header and matches it case-insensitively", () => {
    expect(loadConfig({ IDENTITY_TLS_CERT_AUTH_CLIENT_CERTIFICATE_HEADER_KEY: "X-SSL-Client-Cert" }).CLIENT_CERT_HEADER).toBe("x-ssl-client-cert");
    expect(loadConfig({ CLIENT_CERT_HEADER: "Client-Cert", IDENTITY_TLS_CERT_AUTH_CLIENT_CERTIFICATE_HEADER_KEY: "x-other" }).CLIENT_CERT_HEADER).toBe("client-cert");
  });

  it("parses CLIENT_CERT_SOURCE and TRUSTED_PROXIES lists", () => {
    const config = loadConfig({ CLIENT_CERT_SOURCE: "tls,header", TRUSTED_PROXIES: "10.0.0.0/8, ::1" });
    expect(config.CLIENT_CERT_SOURCE).toEqual({ tls: true, header: true });
    expect(config.TRUSTED_PROXIES.map(([ip, prefix]) => `${ip.toString()}/${prefix}`)).toEqual(["10.0.0.0/8", "::1/128"]);
  });

  it.each([
    [{ PORT: "http" }, "invalid PORT"],
    [{ PORT: "70000" }, "invalid PORT"],
    [{ LOGIN_RATE_LIMIT: "-1" }, "invalid LOGIN_RATE_LIMIT"],
    [{ ADMIN_TOKEN: "short" }, "invalid ADMIN_TOKEN: must be at least 32 characters"],
    [{ TOKEN_SIGNING_ALG: "PS256" }, "invalid TOKEN_SIGNING_ALG"],
    [{ ISSUER_URL: "http://certauth.example.com" }, "invalid ISSUER_URL: must be an https URL"],
    [{ ISSUER_URL: "certauth.example.com" }, "invalid ISSUER_URL"],
    [{ ISSUER_URL: "https://certauth.example.com/" }, "invalid ISSUER_URL"],
    [{ ISSUER_URL: "https://certauth.example.com?tenant=a" }, "invalid ISSUER_URL"],
    [{ ISSUER_URL: "https://certauth.example.com#x" }, "invalid ISSUER_URL"],
    [{ ISSUER_URL: "https://user:pw@certauth.example.com" }, "invalid ISSUER_URL"],
    [{ ISSUER_URL: `https://${"a".repeat(250)}.com` }, "invalid ISSUER_URL: must be at most 256 characters"],
    [{ CLIENT_CERT_SOURCE: "tls,cookie" }, "invalid CLIENT_CERT_SOURCE"],
    [{ TRUSTED_PROXIES: "10.0.0.0/33" }, "invalid TRUSTED_PROXIES"],
    [{ DATABASE_URL: "mysql://x" }, "invalid DATABASE_URL"],
    [{ TLS_CERT_FILE: "/tmp/cert.pem" }, "invalid TLS_CERT_FILE/TLS_KEY_FILE"],
  ])("refuses %p with a line naming the variable", (env, message) => {
    expect(() => loadConfig(env as Record<string, string>)).toThrow(ConfigError);
    expect(() => loadConfig(env as Record<string, string>)).toThrow(message);
  });

  it("stops the service with one clear line and a non-zero exit code, never a stack trace", () => {
    const run = spawnSync("node_modules/.bin/bun", ["src/server/bun.ts"], {
      env: { ...process.env, LOGIN_RATE_LIMIT: "lots", DATA_DIR: "/nonexistent-never-created" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe("certauth: invalid LOGIN_RATE_LIMIT: must be a whole number");
    expect(run.stdout).toBe("");
  });
});
