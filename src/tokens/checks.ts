import type { AppError } from "../errors.ts";
import { refuse } from "./refusal.ts";
import type { TokenState } from "./store.ts";

/** The first check a token fails, in the contract's order (PRODUCT §2.4); null when it would be allowed a use. */
export function firstRefusal(state: TokenState, now: Date, certificateMatches: boolean): AppError | null {
  if (state.revokedAt) return refuse("token_revoked", "The access token has been revoked.");
  if (state.expiresAt.getTime() <= now.getTime()) return refuse("token_expired", "The access token has expired.");
  if (!state.configured) return refuse("identity_not_found", "TLS cert auth is no longer attached to this identity.");
  if (!state.ipTrusted) return ipNotTrusted();
  if (exhausted(state)) return refuse("uses_exhausted", "The access token has no uses left.");
  if (!certificateMatches) return certificateMismatch();
  return null;
}

export function exhausted(state: TokenState): boolean {
  return state.numUsesLimit > 0 && state.numUses >= state.numUsesLimit;
}

export function ipNotTrusted(): AppError {
  return refuse("ip_not_trusted", "The access token may not be used from this IP address.");
}

export function certificateMismatch(): AppError {
  return refuse("certificate_mismatch", "The access token is bound to a client certificate that this request did not present.");
}

/**
 * Why the store made no change, judged on the state it saw (null: no such token, or its identity is gone).
 * When every check passes, the row changed between the statement's snapshot and its update: a concurrent use
 * or revocation won, unless the caller knows better (`otherwise`).
 */
export function refusalOf(
  state: TokenState | null,
  now: Date,
  certificateMatches: (state: TokenState) => boolean,
  otherwise: (state: TokenState) => AppError = lostRace,
): AppError {
  if (!state) return refuse("token_revoked", "The access token has been revoked or its identity no longer exists.");
  return firstRefusal(state, now, certificateMatches(state)) ?? otherwise(state);
}

function lostRace(state: TokenState): AppError {
  return state.numUsesLimit > 0
    ? refuse("uses_exhausted", "The access token has no uses left.")
    : refuse("token_revoked", "The access token has been revoked.");
}
