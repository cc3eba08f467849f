export { TrustConfigError } from "./errors.ts";
export { compileTrust, type CompiledTrust, type CompileOptions } from "./compile.ts";
export { verifyChain } from "./verify.ts";
export { summarizeLeaf } from "./summarize.ts";
export { TrustCache } from "./trust-cache.ts";
export { VerifiedChainCache } from "./verified-chain-cache.ts";
export { refusedChains, RefusedChainCache } from "./refused-chain-cache.ts";
export { parsePemCertificates } from "./pem.ts";
export type { LeafSummary, ReasonCode, Refusal, TrustSettings, Verdict } from "./types.ts";
