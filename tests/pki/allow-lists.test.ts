import { describe, expect, it } from "bun:test";
import { makeCa, makeLeaf, type LeafOptions } from "../fixtures/pki.ts";
import { reason, settings } from "./support.ts";
import type { TrustSettings } from "../../src/pki/index.ts";

const ca = await makeCa({ subject: "CN=Allow CA" });
const login = async (extra: Partial<TrustSettings>, leaf: Omit<LeafOptions, "issuer">) =>
  reason(settings(ca, extra), [await makeLeaf({ issuer: ca, ...leaf })]);

describe("allowedCommonNames", () => {
  it("accepts an exact entry from a comma-separated list with spaces", async () => {
    expect(await login({ allowedCommonNames: "svc-a , svc-b" }, { cn: "svc-b" })).toBe("ok");
  });

  it("refuses a CN not in the list with common_name_not_allowed", async () => {
    expect(await login({ allowedCommonNames: "svc-a,svc-b" }, { cn: "svc-c" })).toBe("common_name_not_allowed");
  });

  it("treats * as any run of characters except a dot", async () => {
    expect(await login({ allowedCommonNames: "*.example.com" }, { cn: "api.example.com" })).toBe("ok");
    expect(await login({ allowedCommonNames: "*.example.com" }, { cn: "a.b.example.com" })).toBe("common_name_not_allowed");
    expect(await login({ allowedCommonNames: "svc-*" }, { cn: "svc-prod" })).toBe("ok");
  });

  it("refuses a leaf without a CN when a list is set, and ignores an empty list", async () => {
    expect(await login({ allowedCommonNames: "svc-a" }, { o: "Example", sans: { dns: ["svc-a"] } })).toBe("common_name_not_allowed");
    expect(await login({ allowedCommonNames: " , " }, { o: "Example" })).toBe("ok");
  });
});

describe("allowedSubjectAltNames", () => {
  it("matches dns: and bare entries case-insensitively with * inside one label", async () => {
    const allowed = { allowedSubjectAltNames: ["dns:*.prod.example.com", "api.example.com"] };
    expect(await login(allowed, { cn: "x", sans: { dns: ["Web.PROD.example.com"] } })).toBe("ok");
    expect(await login(allowed, { cn: "x", sans: { dns: ["API.example.com"] } })).toBe("ok");
    expect(await login(allowed, { cn: "x", sans: { dns: ["a.b.prod.example.com"] } })).toBe("subject_alt_name_not_allowed");
  });

  it("compares IPs canonically: ip:::1 equals the SAN 0:0:0:0:0:0:0:1, and IPv4-mapped equals IPv4", async () => {
    expect(await login({ allowedSubjectAltNames: ["ip:::1"] }, { cn: "x", sans: { ip: ["0:0:0:0:0:0:0:1"] } })).toBe("ok");
    expect(await login({ allowedSubjectAltNames: ["ip:2001:db8::10"] }, { cn: "x", sans: { ip: ["2001:0db8:0:0:0:0:0:0010"] } })).toBe("ok");
    expect(await login({ allowedSubjectAltNames: ["ip:10.0.0.1"] }, { cn: "x", sans: { ip: ["::ffff:a00:1"] } /* ::ffff:10.0.0.1; the encoder takes no dotted tail */ })).toBe("ok");
    expect(await login({ allowedSubjectAltNames: ["ip:10.0.0.1"] }, { cn: "x", sans: { ip: ["10.0.0.2"] } })).toBe(
      "subject_alt_name_not_allowed",
    );
  });

  it("matches SPIFFE IDs with uri: globs where * is any run of characters", async () => {
    const allowed = { allowedSubjectAltNames: ["uri:spiffe://example.org/ns/prod/*"] };
    expect(await login(allowed, { cn: "x", sans: { uri: ["spiffe://example.org/ns/prod/sa/api"] } })).toBe("ok");
    expect(await login(allowed, { cn: "x", sans: { uri: ["spiffe://example.org/ns/dev/sa/api"] } })).toBe("subject_alt_name_not_allowed");
  });

  it("matches email: globs", async () => {
    const allowed = { allowedSubjectAltNames: ["email:*@example.com"] };
    expect(await login(allowed, { cn: "x", sans: { email: ["ops@example.com"] } })).toBe("ok");
    expect(await login(allowed, { cn: "x", sans: { email: ["ops@example.org"] } })).toBe("subject_alt_name_not_allowed");
  });

  it("accepts when at least one SAN matches, and refuses a leaf without SANs", async () => {
    const allowed = { allowedSubjectAltNames: ["dns:a.example.com"] };
    expect(await login(allowed, { cn: "x", sans: { dns: ["other.example.com", "a.example.com"] } })).toBe("ok");
    expect(await login(allowed, { cn: "a.example.com" })).toBe("subject_alt_name_not_allowed");
  });
});

describe("allowedOrganizations and allowedOrganizationalUnits", () => {
  it("globs O values and refuses a mismatch with organization_not_allowed", async () => {
    expect(await login({ allowedOrganizations: ["Example *"] }, { cn: "x", o: ["Other", "Example Corp"] })).toBe("ok");
    expect(await login({ allowedOrganizations: ["Example *"] }, { cn: "x", o: "Other" })).toBe("organization_not_allowed");
    expect(await login({ allowedOrganizations: ["Example"] }, { cn: "x" })).toBe("organization_not_allowed");
  });

  it("globs OU values and refuses a mismatch with organizational_unit_not_allowed", async () => {
    expect(await login({ allowedOrganizationalUnits: ["team-*"] }, { cn: "x", ou: "team-payments" })).toBe("ok");
    expect(await login({ allowedOrganizationalUnits: ["team-*"] }, { cn: "x", ou: "ops" })).toBe("organizational_unit_not_allowed");
  });

  it("requires every set list to pass, checking CN, SAN, O, then OU", async () => {
    const all = {
      allowedCommonNames: "svc",
      allowedSubjectAltNames: ["dns:svc.example.com"],
      allowedOrganizations: ["Example"],
      allowedOrganizationalUnits: ["ops"],
    };
    const good = { cn: "svc", o: "Example", ou: "ops", sans: { dns: ["svc.example.com"] } };
    expect(await login(all, good)).toBe("ok");
    expect(await login(all, { ...good, cn: "nope", o: "Nope" })).toBe("common_name_not_allowed");
    expect(await login(all, { ...good, sans: { dns: ["x.example.com"] }, o: "Nope" })).toBe("subject_alt_name_not_allowed");
    expect(await login(all, { ...good, o: "Nope", ou: "nope" })).toBe("organization_not_allowed");
    expect(await login(all, { ...good, ou: "nope" })).toBe("organizational_unit_not_allowed");
  });

  it("runs allow-lists only after the certificate checks", async () => {
    const expired = { cn: "nope", notBefore: new Date(Date.now() - 9e8), notAfter: new Date(Date.now() - 1e3) };
    expect(await login({ allowedCommonNames: "svc" }, expired)).toBe("certificate_expired");
  });
});
