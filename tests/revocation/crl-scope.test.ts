/**
 * Whoever answers at a CRL URL (a distribution point's or one of crlUrls) can serve any CRL its CA signed, not only
 * the one meant for that URL: a delta CRL, another partition (issuing distribution point), a CRL of CA certificates
 * only, or an older CRL from before a revocation. None of them may stand in for the complete, current CRL of a
 * certificate. Real service, real mutual TLS, a local HTTP server of CRLs.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  BaseCRLNumber,
  DistributionPointName,
  Extension,
  GeneralName,
  IssuingDistributionPoint,
  Reason,
  ReasonFlags,
  id_ce_deltaCRLIndicator,
  id_ce_issuingDistributionPoint,
} from "@peculiar/asn1-x509";
import * as x509 from "../../src/pki/x509.ts";
import { CrlServer } from "../helpers/crl-server.ts";
import { startService, type RunningService } from "../helpers/service.ts";
import { bundle, makeCa, makeLeaf, type Issued } from "../fixtures/pki.ts";

const LOGIN = "/api/v1/auth/tls-cert-auth/login";

const dp = (...urls: string[]) => [new x509.CRLDistributionPointsExtension(urls)];
const critical = (extnID: string, value: object) => new Extension({ extnID, critical: true, extnValue: new OctetString(AsnConvert.serialize(value)) });
const delta = () => critical(id_ce_deltaCRLIndicator, new BaseCRLNumber(1));
const idp = (params: Partial<IssuingDistributionPoint>) => critical(id_ce_issuingDistributionPoint, new IssuingDistributionPoint(params));
const partition = (url: string) =>
  idp({ distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: url })] }) });

describe("what a CRL server can serve", () => {
  let svc: RunningService;
  let orgId: string;
  const crls = new CrlServer();
  let root: Issued;
  let sibling: Issued;
  let listed: Issued;
  let refreshes = 0;
  const DAY = 24 * 3600 * 1000;

  const configPath = (id: string) => `/api/v1/auth/tls-cert-auth/identities/${id}`;
  const attach = async (body: Record<string, unknown>) => {
    const id = (await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId } })).json.identity.id as string;
    const res = await svc.admin(configPath(id), { body: { caCertificate: bundle(root, sibling), ...body } });
    expect(res.json.message).toBeUndefined();
    return id;
  };
  const reasonOf = async (identityId: string, leaf: Issued) => {
    const res = await svc.call(LOGIN, { body: { identityId }, cert: bundle(leaf), key: leaf.keyPem });
    return res.status === 200 ? 200 : `${res.status} ${res.headers["x-certauth-reason"]}`;
  };
  /** Attaches with a CRL URL listing `listed`, then lets the server answer `replace` and refreshes past its next fetch. */
  const refreshedWith = async (path: string, replace: () => Promise<unknown>) => {
    const id = await attach({ crlUrls: [await crls.serve(path, root, [listed.serial])] });
    expect(await reasonOf(id, listed)).toBe("401 certificate_revoked");
    await replace();
    const before = crls.hits.get(path);
    await svc.service.crlRefresher.refreshDue(new Date(Date.now() + (2 + refreshes++) * 3600_000));
    expect(crls.hits.get(path)).toBe(before! + 1);
    const [status] = (await svc.admin(configPath(id))).json.identityTlsCertAuth.crlUrlStatus;
    return { id, status: status.status as string };
  };

  beforeAll(async () => {
    root = await makeCa({ subject: "CN=Scope Root" });
    sibling = await makeCa({ subject: "CN=Scope Sibling" });
    listed = await makeLeaf({ issuer: root, cn: "revoked" });
    await crls.start();
    svc = await startService("pglite", { LOGIN_RATE_LIMIT: "0" });
    orgId = (await svc.admin("/api/v1/organizations", { body: { name: "Acme", slug: "acme" } })).json.organization.id;
  }, 120_000);
  afterAll(async () => {
    await svc?.stop();
    crls.stop();
  });

  describe("at a distribution point", () => {
    it("does not take a delta CRL as the certificate's CRL", async () => {
      const url = crls.url("/dp/delta.crl");
      const revoked = await makeLeaf({ issuer: root, cn: "revoked-before-the-delta", extraExtensions: dp(url) });
      await crls.serve("/dp/delta.crl", root, [], { extensions: [delta()] });
      expect(await reasonOf(await attach({ useCrlDistributionPoints: true }), revoked)).toBe("401 revocation_status_unavailable");
    });

    it("does not take another partition's CRL, and takes the certificate's own", async () => {
      const mine = crls.url("/dp/part-2.crl");
      const other = crls.url("/dp/part-1.crl");
      const revoked = await makeLeaf({ issuer: root, cn: "revoked-in-part-2", extraExtensions: dp(mine) });
      const good = await makeLeaf({ issuer: root, cn: "good-in-part-2", extraExtensions: dp(mine) });
      // The server at part 2 answers with part 1's CRL: current, signed by the CA, and silent about part 2's serials.
      await crls.serve("/dp/part-2.crl", root, [], { extensions: [partition(other)] });
      expect(await reasonOf(await attach({ useCrlDistributionPoints: true }), revoked)).toBe("401 revocation_status_unavailable");

      await crls.serve("/dp/part-2.crl", root, [revoked.serial], { extensions: [partition(mine)] });
      const id = await attach({ useCrlDistributionPoints: true });
      expect(await reasonOf(id, revoked)).toBe("401 certificate_revoked");
      expect(await reasonOf(id, good)).toBe(200);
    });

    it("does not take a CRL of CA certificates only, or of some reasons only, for a leaf", async () => {
      const url = crls.url("/dp/ca-only.crl");
      const leaf = await makeLeaf({ issuer: root, cn: "leaf-under-ca-only", extraExtensions: dp(url) });
      await crls.serve("/dp/ca-only.crl", root, [], { extensions: [idp({ onlyContainsCACerts: true })] });
      expect(await reasonOf(await attach({ useCrlDistributionPoints: true }), leaf)).toBe("401 revocation_status_unavailable");

      const some = crls.url("/dp/some-reasons.crl");
      const other = await makeLeaf({ issuer: root, cn: "leaf-under-some-reasons", extraExtensions: dp(some) });
      const keyCompromise = new Reason(ReasonFlags.keyCompromise);
      await crls.serve("/dp/some-reasons.crl", root, [], { extensions: [idp({ onlySomeReasons: keyCompromise })] });
      expect(await reasonOf(await attach({ useCrlDistributionPoints: true }), other)).toBe("401 revocation_status_unavailable");
    });
  });

  describe("when a stored CRL is fetched again", () => {
    it("keeps the stored CRL when the server answers another configured CA's CRL", async () => {
      const { id, status } = await refreshedWith("/url/swap.crl", () => crls.serve("/url/swap.crl", sibling, []));
      expect(await reasonOf(id, listed)).toBe("401 certificate_revoked");
      expect(status).toStartWith("failed: ");
    });

    it("keeps the stored CRL when the server answers an older one, from before the revocation", async () => {
      const { id, status } = await refreshedWith("/url/rollback.crl", () =>
        crls.serve("/url/rollback.crl", root, [], { thisUpdate: new Date(Date.now() - 2 * DAY), nextUpdate: new Date(Date.now() + 5 * DAY) }),
      );
      expect(await reasonOf(id, listed)).toBe("401 certificate_revoked");
      expect(status).toStartWith("failed: ");
    });

    it("keeps the stored CRL when the server answers a newer delta CRL or another partition", async () => {
      const deltaRefresh = await refreshedWith("/url/delta.crl", () => crls.serve("/url/delta.crl", root, [], { thisUpdate: new Date(), extensions: [delta()] }));
      expect(await reasonOf(deltaRefresh.id, listed)).toBe("401 certificate_revoked");
      expect(deltaRefresh.status).toStartWith("failed: ");
      const partitionRefresh = await refreshedWith("/url/partition.crl", () =>
        crls.serve("/url/partition.crl", root, [], { thisUpdate: new Date(), extensions: [partition(crls.url("/url/other.crl"))] }),
      );
      expect(await reasonOf(partitionRefresh.id, listed)).toBe("401 certificate_revoked");
      expect(partitionRefresh.status).toStartWith("failed: ");
    });

    it("takes a newer CRL of the same list", async () => {
      const good = await makeLeaf({ issuer: root, cn: "good-then-revoked" });
      const { id, status } = await refreshedWith("/url/newer.crl", () => crls.serve("/url/newer.crl", root, [listed.serial, good.serial], { thisUpdate: new Date() }));
      expect(status).toBe("ok");
      expect(await reasonOf(id, good)).toBe("401 certificate_revoked");
    });
  });
});
