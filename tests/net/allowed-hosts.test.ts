import { describe, expect, it } from "bun:test";
import { parseAllowedHosts } from "../../src/net/allowed-hosts.ts";
import { ipInRanges } from "../../src/net/ip.ts";

describe("REVOCATION_FETCH_ALLOWED_HOSTS", () => {
  const allowed = parseAllowedHosts("crl.example.com, *.pki.example, 10.0.0.0/8, 192.0.2.7");
  const nameAllowed = (host: string) => allowed.names.some((matches) => matches(host));

  it("matches a host name exactly, case-insensitively", () => {
    expect(nameAllowed("crl.example.com")).toBe(true);
    expect(nameAllowed("CRL.Example.COM")).toBe(true);
    expect(nameAllowed("crl.example.com.evil")).toBe(false);
    expect(nameAllowed("xcrl.example.com")).toBe(false);
  });

  it("matches a *.-glob against exactly one label in front of it", () => {
    expect(nameAllowed("a.pki.example")).toBe(true);
    expect(nameAllowed("pki.example")).toBe(false);
    expect(nameAllowed("a.b.pki.example")).toBe(false);
    expect(nameAllowed("apki.example")).toBe(false);
  });

  it("reads CIDRs and single addresses as ranges", () => {
    expect(ipInRanges("10.1.2.3", allowed.ranges)).toBe(true);
    expect(ipInRanges("192.0.2.7", allowed.ranges)).toBe(true);
    expect(ipInRanges("192.0.2.8", allowed.ranges)).toBe(false);
  });

  it("refuses an entry that is neither, naming it", () => {
    expect(() => parseAllowedHosts("crl.example.com, http://x")).toThrow('"http://x"');
    expect(() => parseAllowedHosts("a b")).toThrow('"a b"');
  });
});
