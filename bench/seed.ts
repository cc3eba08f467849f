/**
 * Fills a database for one benchmark case, straight through drizzle (the admin API caps bodies at 64 KiB,
 * a 100,000-serial CRL is ~4 MB): one organization, `identities - 2` background identities with TLS cert
 * auth on the benchmark CA, and the two identities the load logs in as (direct mode, chain mode), which
 * carry the CRL when the case has one.
 */
import { openDatabase } from "../src/db/client.ts";
import { identities, identityTlsCertAuths, organizations } from "../src/db/schema.ts";
import { Metrics } from "../src/metrics/registry.ts";
import { parseAllowedHosts } from "../src/net/allowed-hosts.ts";
import { CrlSource, fetchForAttach, replaceFetchedCrls } from "../src/revocation/crls.ts";

export interface Seeded {
  directId: string;
  chainId: string;
  /** Direct mode with OCSP asked of `ocspUrl` (answers cached after the first login), when given. */
  ocspId: string | null;
  /** Direct mode with the CRL of `crlUrl`, fetched here as an attach does, when given. */
  crlUrlId: string | null;
}

const TRUSTED_EVERYWHERE = [
  { ipAddress: "0.0.0.0", type: "ipv4" as const, prefix: 0 },
  { ipAddress: "::", type: "ipv6" as const, prefix: 0 },
];
const TTL = 2_592_000;
const BATCH = 2_000;

export async function seed(options: {
  url: string | undefined;
  dataDir: string;
  identityCount: number;
  caPem: string;
  crlPem: string | null;
  ocspUrl?: string;
  crlUrl?: string;
}): Promise<Seeded> {
  const database = await openDatabase({ url: options.url, dataDir: options.dataDir, statementTimeoutMs: 600_000 });
  const { db } = database;
  try {
    const orgId = crypto.randomUUID();
    await db.insert(organizations).values({ id: orgId, name: "Bench", slug: "bench", rootOrgId: orgId });
    const config = (identityId: string, chainMode: boolean, crls: string | null) => ({
      identityId,
      caCertificate: options.caPem,
      verifyClientCertificateChain: chainMode,
      crls,
      accessTokenTrustedIps: TRUSTED_EVERYWHERE,
      accessTokenTTL: TTL,
      accessTokenMaxTTL: TTL,
    });
    const background = Math.max(0, options.identityCount - 2);
    for (let done = 0; done < background; done += BATCH) {
      const ids = Array.from({ length: Math.min(BATCH, background - done) }, () => crypto.randomUUID());
      await db.insert(identities).values(ids.map((id, i) => ({ id, name: `bench-${done + i}`, orgId })));
      await db.insert(identityTlsCertAuths).values(ids.map((id) => config(id, false, null)));
    }
    const directId = crypto.randomUUID();
    const chainId = crypto.randomUUID();
    await db.insert(identities).values([
      { id: directId, name: "bench-direct", orgId },
      { id: chainId, name: "bench-chain", orgId },
    ]);
    await db.insert(identityTlsCertAuths).values([config(directId, false, options.crlPem), config(chainId, true, options.crlPem)]);
    let ocspId: string | null = null;
    if (options.ocspUrl) {
      ocspId = crypto.randomUUID();
      await db.insert(identities).values({ id: ocspId, name: "bench-ocsp", orgId });
      await db.insert(identityTlsCertAuths).values({ ...config(ocspId, false, null), ocspEnabled: true, ocspServersOverride: [options.ocspUrl] });
    }
    let crlUrlId: string | null = null;
    if (options.crlUrl) {
      crlUrlId = crypto.randomUUID();
      const fetched = await fetchForAttach(new CrlSource(parseAllowedHosts(""), 3600, new Metrics()), [options.crlUrl], new Date());
      await db.insert(identities).values({ id: crlUrlId, name: "bench-crl-url", orgId });
      const [row] = await db.insert(identityTlsCertAuths).values({ ...config(crlUrlId, false, null), crlUrls: [options.crlUrl] }).returning();
      await replaceFetchedCrls(db, row!.id, fetched);
    }
    return { directId, chainId, ocspId, crlUrlId };
  } finally {
    await database.close();
  }
}
