/**
 * Fills a database for one benchmark case, straight through drizzle (the admin API caps bodies at 64 KiB,
 * a 100,000-serial CRL is ~4 MB): one organization, `identities - 2` background identities with TLS cert
 * auth on the benchmark CA, and the two identities the load logs in as (direct mode, chain mode), which
 * carry the CRL when the case has one.
 */
import { openDatabase } from "../src/db/client.ts";
import { identities, identityTlsCertAuths, organizations } from "../src/db/schema.ts";

export interface Seeded {
  directId: string;
  chainId: string;
}

const TRUSTED_EVERYWHERE = [
  { ipAddress: "0.0.0.0", type: "ipv4" as const, prefix: 0 },
  { ipAddress: "::", type: "ipv6" as const, prefix: 0 },
];
const TTL = 2_592_000;
const BATCH = 2_000;

export async function seed(options: { url: string | undefined; dataDir: string; identityCount: number; caPem: string; crlPem: string | null }): Promise<Seeded> {
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
    return { directId, chainId };
  } finally {
    await database.close();
  }
}
