import { describe, expect, it } from "bun:test";
import { makeCa, makeLeaf, type SubtreeSet } from "../fixtures/pki.ts";
import { reason, settings } from "./support.ts";

const chainMode = { verifyClientCertificateChain: true };

async function constrained(permitted?: SubtreeSet, excluded?: SubtreeSet, onAnchor = false) {
  const root = await makeCa({ subject: "CN=Root", ...(onAnchor ? { nameConstraints: { permitted, excluded } } : {}) });
  const inter = await makeCa({ subject: "CN=Inter", issuer: root, ...(onAnchor ? {} : { nameConstraints: { permitted, excluded } }) });
  return async (sans: SubtreeSet, extra: { emailAddress?: string; cn?: string } = {}) => {
    const leaf = await makeLeaf({ issuer: inter, cn: extra.cn ?? "svc", emailAddress: extra.emailAddress, sans });
    return reason(settings(root, chainMode), [leaf, inter]);
  };
}

describe("name constraints", () => {
  it("permits DNS names in and under a permitted domain and refuses others with name_constraint_violation", async () => {
    const login = await constrained({ dns: ["example.com"] });
    expect(await login({ dns: ["example.com"] })).toBe("ok");
    expect(await login({ dns: ["svc.EXAMPLE.com"] })).toBe("ok");
    expect(await login({ dns: ["badexample.com"] })).toBe("name_constraint_violation");
    expect(await login({ dns: ["example.org"] })).toBe("name_constraint_violation");
  });

  it("treats a leading-dot DNS constraint as subdomains only", async () => {
    const login = await constrained({ dns: [".example.com"] });
    expect(await login({ dns: ["a.example.com"] })).toBe("ok");
    expect(await login({ dns: ["example.com"] })).toBe("name_constraint_violation");
  });

  it("refuses when one SAN fits and another does not (one fitting SAN does not excuse another)", async () => {
    const login = await constrained({ dns: ["example.com"] });
    expect(await login({ dns: ["a.example.com", "evil.org"] })).toBe("name_constraint_violation");
  });

  it("refuses a DNS name inside an excluded subtree", async () => {
    const login = await constrained(undefined, { dns: ["secret.example.com"] });
    expect(await login({ dns: ["a.example.com"] })).toBe("ok");
    expect(await login({ dns: ["db.secret.example.com"] })).toBe("name_constraint_violation");
  });

  it("does not treat the subject CN as a DNS name", async () => {
    const login = await constrained({ dns: ["example.com"] });
    expect(await login({ dns: ["a.example.com"] }, { cn: "evil.org" })).toBe("ok");
  });

  it("applies name constraints on the trust anchor too", async () => {
    const login = await constrained({ dns: ["example.com"] }, undefined, true);
    expect(await login({ dns: ["a.example.com"] })).toBe("ok");
    expect(await login({ dns: ["a.example.org"] })).toBe("name_constraint_violation");
  });

  it("applies name constraints of the issuing CA in direct mode", async () => {
    const ca = await makeCa({ nameConstraints: { permitted: { dns: ["example.com"] } } });
    const good = await makeLeaf({ issuer: ca, cn: "svc", sans: { dns: ["a.example.com"] } });
    const bad = await makeLeaf({ issuer: ca, cn: "svc", sans: { dns: ["a.example.org"] } });
    expect(await reason(settings(ca), [good])).toBe("ok");
    expect(await reason(settings(ca), [bad])).toBe("name_constraint_violation");
  });

  it("checks IPv4 and IPv6 addresses against permitted CIDRs", async () => {
    const login = await constrained({ ip: ["10.0.0.0/8", "fd00::/8"] });
    expect(await login({ ip: ["10.1.2.3"] })).toBe("ok");
    expect(await login({ ip: ["fd12:3456::1"] })).toBe("ok");
    expect(await login({ ip: ["192.168.0.1"] })).toBe("name_constraint_violation");
    expect(await login({ ip: ["2001:db8::1"] })).toBe("name_constraint_violation");
  });

  it("refuses an IPv6 address when only IPv4 ranges are permitted", async () => {
    const login = await constrained({ ip: ["0.0.0.0/0"] });
    expect(await login({ ip: ["::1"] })).toBe("name_constraint_violation");
  });

  it("refuses an address inside an excluded CIDR", async () => {
    const login = await constrained(undefined, { ip: ["10.9.0.0/16", "fd00:bad::/32"] });
    expect(await login({ ip: ["10.8.0.1"] })).toBe("ok");
    expect(await login({ ip: ["10.9.0.1"] })).toBe("name_constraint_violation");
    expect(await login({ ip: ["fd00:bad::5"] })).toBe("name_constraint_violation");
  });

  it("checks an IPv4-mapped IPv6 address as the IPv4 address it carries, excluded and permitted", async () => {
    const excluding = await constrained(undefined, { ip: ["10.0.0.0/8"] });
    expect(await excluding({ ip: ["::ffff:a00:1"] })).toBe("name_constraint_violation");
    expect(await excluding({ ip: ["::ffff:a09:807"] })).toBe("name_constraint_violation");
    expect(await excluding({ ip: ["::ffff:c000:201"] })).toBe("ok");
    const permitting = await constrained({ ip: ["192.0.2.0/24"] });
    expect(await permitting({ ip: ["::ffff:c000:201"] })).toBe("ok");
    expect(await permitting({ ip: ["::ffff:a00:1"] })).toBe("name_constraint_violation");
    const excludingMappedRange = await constrained(undefined, { ip: ["::ffff:0:0/96"] });
    expect(await excludingMappedRange({ ip: ["::ffff:a00:1"] })).toBe("name_constraint_violation");
  });

  it("checks the host of URI SANs (SPIFFE IDs) against permitted and excluded hosts", async () => {
    const login = await constrained({ uri: ["example.org", ".svc.example.net"] }, { uri: ["bad.svc.example.net"] });
    expect(await login({ uri: ["spiffe://example.org/ns/prod/sa/api"] })).toBe("ok");
    expect(await login({ uri: ["spiffe://a.svc.example.net/x"] })).toBe("ok");
    expect(await login({ uri: ["spiffe://sub.example.org/x"] })).toBe("name_constraint_violation");
    expect(await login({ uri: ["spiffe://other.org/x"] })).toBe("name_constraint_violation");
    expect(await login({ uri: ["spiffe://bad.svc.example.net/x"] })).toBe("name_constraint_violation");
    expect(await login({ uri: ["urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"] })).toBe("name_constraint_violation");
  });

  it("checks email SANs and the subject emailAddress against rfc822 constraints", async () => {
    const login = await constrained({ email: ["example.com"] }, { email: ["root@example.com"] });
    expect(await login({ email: ["ops@example.com"] })).toBe("ok");
    expect(await login({ email: ["ops@example.org"] })).toBe("name_constraint_violation");
    expect(await login({ email: ["root@example.com"] })).toBe("name_constraint_violation");
    expect(await login({ dns: [] }, { emailAddress: "ops@example.org" })).toBe("name_constraint_violation");
    expect(await login({ dns: [] }, { emailAddress: "ops@example.com" })).toBe("ok");
  });

  it("leaves names of unconstrained types alone", async () => {
    const login = await constrained({ dns: ["example.com"] });
    expect(await login({ dns: ["a.example.com"], ip: ["192.0.2.1"], uri: ["spiffe://anything/x"] })).toBe("ok");
  });
});
