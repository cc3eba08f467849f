/** A CA, a client certificate and an identity with TLS cert auth on a real started server, for the Infisical clients. */
import { expect } from "bun:test";
import { makeCa, makeLeaf } from "../fixtures/pki.ts";
import type { ServiceProcess } from "../helpers/processes.ts";

export const LOGIN = "/api/v1/auth/tls-cert-auth/login";
export const configPath = (identityId: string) => `/api/v1/auth/tls-cert-auth/identities/${identityId}`;

export const root = await makeCa({ subject: "CN=Compat Root" });
export const client = await makeLeaf({ issuer: root, cn: "svc-a" });

export async function createOrg(svc: ServiceProcess): Promise<{ id: string; slug: string }> {
  const slug = `org-${crypto.randomUUID().slice(0, 8)}`;
  const res = await svc.admin("/api/v1/organizations", { body: { name: slug, slug } });
  expect(res.status).toBe(200);
  return res.json.organization;
}

/** An identity in `orgId`; TLS cert auth is attached with `config` unless it is null. */
export async function createIdentity(svc: ServiceProcess, orgId: string, config: Record<string, unknown> | null = {}): Promise<string> {
  const identity = await svc.admin("/api/v1/identities", { body: { name: `id-${crypto.randomUUID()}`, organizationId: orgId } });
  expect(identity.status).toBe(200);
  const id: string = identity.json.identity.id;
  if (config) {
    const attached = await svc.admin(configPath(id), { body: { caCertificate: root.pem, ...config } });
    expect(attached.status).toBe(200);
  }
  return id;
}
