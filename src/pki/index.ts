export { TrustConfigError } from "./errors.ts";
export { assertCryptoPolicy, compileTrust, type CompiledTrust, type CompileOptions } from "./compile.ts";
export { verifyChain } from "./verify.ts";
export { fingerprintLeaf, summarizeLeaf } from "./summarize.ts";
export { leafTooLarge, MAX_CERTIFICATE_BYTES, MAX_CHAIN_BYTES } from "./limits.ts";
export { TrustCache } from "./trust-cache.ts";
export { VerifiedChainCache } from "./verified-chain-cache.ts";
export { parsePemCertificates } from "./pem.ts";
export type { LeafSummary, ReasonCode, Refusal, TrustSettings, Verdict } from "./types.ts";
