import { compileTrust, verifyChain, type TrustSettings, type Verdict } from "../../src/pki/index.ts";
import type { CompiledTrust } from "../../src/pki/index.ts";
import { bundle, generateKeys, type CrlFixture, type Issued, type KeyMaterial, type KeyType } from "../fixtures/pki.ts";

export function settings(cas: Issued | Issued[], extra: Partial<TrustSettings> = {}): TrustSettings {
  return {
    caCertificate: bundle(...(Array.isArray(cas) ? cas : [cas])),
    crls: null,
    verifyClientCertificateChain: false,
    allowedCommonNames: null,
    allowedSubjectAltNames: null,
    allowedOrganizations: null,
    allowedOrganizationalUnits: null,
    ...extra,
  };
}

export const crlPem = (...crls: CrlFixture[]) => bundle(...crls);

/** Compiles the settings and verifies `chain` (leaf first) at `now` (default: the current time). */
export async function check(
  trustOrSettings: TrustSettings | CompiledTrust,
  chain: (Issued | Uint8Array)[],
  now = new Date(),
): Promise<Verdict> {
  const trust = "anchors" in trustOrSettings ? trustOrSettings : await compileTrust(trustOrSettings);
  return verifyChain(trust, chain.map((c) => (c instanceof Uint8Array ? c : c.der)), now);
}

/** The verdict's reason, or "ok". */
export async function reason(...args: Parameters<typeof check>): Promise<string> {
  const verdict = await check(...args);
  return verdict.ok ? "ok" : verdict.reason;
}

const pool = new Map<string, Promise<KeyMaterial>>();
/** The `n`th key of a type, generated once per test process (RSA keys are slow to make). */
export function key(type: KeyType, n = 0): Promise<KeyMaterial> {
  const id = `${type}#${n}`;
  let k = pool.get(id);
  if (!k) {
    k = generateKeys(type);
    pool.set(id, k);
  }
  return k;
}

export const DAY = 86_400_000;
export const at = (base: Date, ms: number) => new Date(base.getTime() + ms);
