import type { Context } from "hono";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import type { AppEnv } from "../http/env.ts";
import { clientCertificateChain, clientIp } from "../http/client-cert.ts";
import { presentedBinding } from "./binding.ts";
import { refusalOf } from "./checks.ts";
import { verifyAccessToken, type AccessTokenClaims } from "./claims.ts";
import type { TokenSigner } from "./signer.ts";
import { tokenStore, type TokenState, type TokenStore } from "./store.ts";

export interface TokenDeps {
  tokens: TokenStore;
  config: Config;
  signer: TokenSigner;
  clock: () => Date;
}

/** What the app wires in; the token statements are prepared once from its database. */
export interface TokenWiring extends Omit<TokenDeps, "tokens"> {
  db: Db;
}

export function tokenDeps({ db, ...wiring }: TokenWiring): TokenDeps {
  return { ...wiring, tokens: tokenStore(db) };
}

/** What a use needs to know about the request besides the token. */
export interface UseRequest {
  clientIp: string;
  /** DER of the client certificate's leaf, or null; only read for certificate-bound tokens. */
  clientCertificate: () => Uint8Array | null;
}

export interface TokenUse {
  claims: AccessTokenClaims;
  state: TokenState;
  /** Uses counted so far, this one included. */
  numUses: number;
}

/** The request's client IP and certificate, from the TLS peer or a trusted proxy as configured. */
export function useRequestOf(c: Context<AppEnv>, config: Config): UseRequest {
  return {
    clientIp: clientIp(c, config),
    clientCertificate: () => {
      try {
        return clientCertificateChain(c, config)?.[0] ?? null;
      } catch {
        // An undecodable forwarded certificate is no certificate: a bound token then fails as a mismatch.
        return null;
      }
    },
  };
}

/**
 * One use of an access token. In the contract's order: signature and expiry (in memory), revocation, the
 * identity and its TLS cert auth, trusted IPs, the use count, the certificate binding. Everything after the
 * signature is one statement that judges the row and counts the use only when every check passes, so a limit
 * of N allows exactly N uses across concurrent requests and instances, and a refused use costs nothing.
 */
export async function useToken(deps: Omit<TokenDeps, "config">, token: string, request: UseRequest): Promise<TokenUse> {
  const now = deps.clock();
  const claims = await verifyAccessToken(deps.signer, token, now);
  const binding = await presentedBinding(claims, request.clientCertificate);
  const judged = await deps.tokens.use(claims.jti, { now, clientIp: request.clientIp, claimMatches: binding.claimMatches, presented: binding.presented });
  if (judged?.outcome != null) return { claims, state: judged.state, numUses: judged.outcome };
  throw refusalOf(judged?.state ?? null, now, binding.matches);
}

/** Uses left, or null when the token has no limit. */
export function usesRemaining(limit: number, used: number): number | null {
  return limit === 0 ? null : Math.max(0, limit - used);
}
