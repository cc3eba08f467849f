import { sql } from "drizzle-orm";
import type { Context } from "hono";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import type { AppError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { clientCertificateChain, clientIp } from "../http/client-cert.ts";
import { certificateThumbprint } from "./binding.ts";
import { boundThumbprint, verifyAccessToken, type AccessTokenClaims } from "./claims.ts";
import { refuse } from "./refusal.ts";
import type { TokenSigner } from "./signer.ts";
import { inetOrNull, rowsOf, targetCte, toState, type TokenState } from "./state.ts";

export interface TokenDeps {
  db: Db;
  config: Config;
  signer: TokenSigner;
  clock: () => Date;
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
export async function useToken(deps: TokenDeps, token: string, request: UseRequest): Promise<TokenUse> {
  const now = deps.clock();
  const claims = await verifyAccessToken(deps.signer, token, now);
  const binding = await presentedBinding(claims, request);
  const rows = rowsOf(
    await deps.db.execute(sql`
      with ${targetCte(claims.jti, inetOrNull(request.clientIp))},
      used as (
        update identity_access_tokens u set num_uses = u.num_uses + 1
        from target
        where u.id = target.id and target.configured and target.ip_trusted
          and u.revoked_at is null and u.expires_at > ${now.toISOString()}::timestamptz
          and (u.num_uses_limit = 0 or u.num_uses < u.num_uses_limit)
          and ${binding.claimMatches}::boolean
          and (u.cert_thumbprint is null or u.cert_thumbprint = ${binding.presented}::text)
        returning u.num_uses
      )
      select target.*, (select num_uses from used) as used_num_uses from target`),
  );
  const row = rows[0];
  if (!row) throw refuse("token_revoked", "The access token has been revoked or its identity no longer exists.");
  const state = toState(row);
  if (row.used_num_uses != null) return { claims, state, numUses: Number(row.used_num_uses) };
  throw (
    firstRefusal(state, now, binding.matches(state)) ??
    // The row changed between the statement's snapshot and its update: a concurrent use or revocation won.
    (state.numUsesLimit > 0
      ? refuse("uses_exhausted", "The access token has no uses left.")
      : refuse("token_revoked", "The access token has been revoked."))
  );
}

export interface PresentedBinding {
  /** Thumbprint of the request's leaf certificate, computed only for a bound token. */
  presented: string | null;
  claimMatches: boolean;
  /** The request's certificate matches both the signed `cnf` claim and the row's thumbprint. */
  matches(state: TokenState): boolean;
}

export async function presentedBinding(claims: AccessTokenClaims, request: UseRequest): Promise<PresentedBinding> {
  const bound = boundThumbprint(claims);
  let presented: string | null = null;
  if (bound) {
    const leaf = request.clientCertificate();
    presented = leaf ? await certificateThumbprint(leaf) : null;
  }
  const claimMatches = !bound || presented === bound;
  return {
    presented,
    claimMatches,
    matches: (state) => claimMatches && (state.certThumbprint === null || state.certThumbprint === presented),
  };
}

/** The first check a token fails, in the contract's order; null when it would be allowed a use. */
export function firstRefusal(state: TokenState, now: Date, certificateMatches: boolean): AppError | null {
  if (state.revokedAt) return refuse("token_revoked", "The access token has been revoked.");
  if (state.expiresAt.getTime() <= now.getTime()) return refuse("token_expired", "The access token has expired.");
  if (!state.configured) return refuse("identity_not_found", "TLS cert auth is no longer attached to this identity.");
  if (!state.ipTrusted) return refuse("ip_not_trusted", "The access token may not be used from this IP address.");
  if (state.numUsesLimit > 0 && state.numUses >= state.numUsesLimit) {
    return refuse("uses_exhausted", "The access token has no uses left.");
  }
  if (!certificateMatches) return certificateMismatch();
  return null;
}

export function certificateMismatch(): AppError {
  return refuse("certificate_mismatch", "The access token is bound to a client certificate that this request did not present.");
}

/** Uses left, or null when the token has no limit. */
export function usesRemaining(limit: number, used: number): number | null {
  return limit === 0 ? null : Math.max(0, limit - used);
}
