/** A certauth started as an OIDC issuer, and the certificates of a workload carrying a SPIFFE ID and private extensions. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as asn1js from "asn1js";
import { customExtension, makeCa, makeLeaf } from "../fixtures/pki.ts";
import { freePort } from "../helpers/ports.ts";
import { startService, type RunningService } from "../helpers/service.ts";

/** A private extension with a UTF8String value, and one with an INTEGER (not a string). */
export const ASSET_OID = "1.3.6.1.4.1.55555.1";
export const LEVEL_OID = "1.3.6.1.4.1.55555.2";
export const LEVEL_DER = new Uint8Array(new asn1js.Integer({ value: 3 }).toBER());
export const SPIFFE_ID = "spiffe://example.org/ns/prod/sa/payments";

export const root = await makeCa({ subject: "CN=Federation Root" });
export const workload = await makeLeaf({
  issuer: root,
  cn: "payments",
  o: "Example",
  ou: ["payments", "prod"],
  sans: { uri: [SPIFFE_ID], dns: ["payments.example.org", "payments.prod.example.org"], ip: ["10.1.2.3"] },
  extraExtensions: [customExtension(ASSET_OID, { utf8: "asset-42" }), customExtension(LEVEL_OID, { der: LEVEL_DER })],
});
/** The same kind of workload without the private extensions. */
export const bare = await makeLeaf({ issuer: root, cn: "payments", sans: { uri: [SPIFFE_ID] } });

export interface Issuer extends RunningService {
  /** ISSUER_URL, which is also where the service listens. */
  issuer: string;
  /** The service's self-signed certificate: the only CA a relying party here trusts. */
  serverCa: string;
  serverCaFile: string;
}

/** certauth with ISSUER_URL set to the URL it listens on. */
export async function startIssuer(env: Record<string, string> = {}): Promise<Issuer> {
  const port = await freePort();
  const issuer = `https://127.0.0.1:${port}`;
  const svc = await startService("pglite", { PORT: String(port), ISSUER_URL: issuer, ...env });
  const serverCaFile = join(svc.dataDir, "server.crt");
  return { ...svc, issuer, serverCa: readFileSync(serverCaFile, "utf8"), serverCaFile };
}

/** fetch that trusts only the service's certificate (Bun's `tls` option). */
export const trustingFetch = (ca: string) => (url: string | URL, init: RequestInit = {}) => fetch(url, { ...init, tls: { ca } } as RequestInit);

export async function identityWith(svc: RunningService, config: Record<string, unknown>): Promise<string> {
  const slug = `org-${crypto.randomUUID().slice(0, 8)}`;
  const org = await svc.admin("/api/v1/organizations", { body: { name: slug, slug } });
  const identity = await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: org.json.organization.id } });
  const id = identity.json.identity.id as string;
  const attached = await svc.admin(`/api/v1/auth/tls-cert-auth/identities/${id}`, { body: { caCertificate: root.pem, ...config } });
  if (attached.status !== 200) throw new Error(`attach answered ${attached.status}: ${attached.text}`);
  return id;
}
