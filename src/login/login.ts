import type { Config } from "../config.ts";
import { AppError } from "../errors.ts";
import { recordFailedLogin, type FailedLogin } from "../audit/login.ts";
import { decodeLeaf, leafTooLarge, type DecodedLeaf } from "../pki/index.ts";
import type { TokenAnswer } from "../tokens/answer.ts";
import { tokenIssuer } from "../tokens/issue.ts";
import type { TokenSigner } from "../tokens/signer.ts";
import { isUuid } from "../uuid.ts";
import { identityLookup, type IdentityRow } from "./identities.ts";
import { certificateTooLarge, certificateUndecodable, identityNotFound, noCertificate, settingsChanged, tlsCertAuthNotAttached } from "./refusals.ts";
import { scopeOrganization } from "./sub-organization.ts";
import { verify, type VerificationDeps } from "./verification.ts";

export interface LoginRequest {
  identityId: string;
  organizationSlug?: string;
  /** DER, leaf first; null when the request carried no certificate. Throws a 400 for an undecodable forwarded one. */
  chain: () => Uint8Array[] | null;
  clientIp: string;
}

export type Login = (request: LoginRequest) => Promise<TokenAnswer>;

export interface LoginDeps extends VerificationDeps {
  config: Config;
  signer: TokenSigner;
  clock: () => Date;
}

/** Reads of the identity per login at most, when what was read keeps changing under it. */
const MAX_TRIES = 3;

type Attempt = Omit<FailedLogin, "reasonCode">;

/**
 * One login: certificate present and within size → identity and its TLS cert auth (remembered, or read) →
 * leaf decoded → verification → sub-organization scope → token, written with its audit event only if what
 * it was verified against is still current. Failures past the body check are audited, then rethrown.
 * Nothing presented is decoded or cached until the identity is known: an unknown identity costs a hash.
 */
export function createLogin(deps: LoginDeps): Login {
  const identities = identityLookup(deps.db);
  const issue = tokenIssuer({ db: deps.db, signer: deps.signer, maxTokenTtl: deps.config.MAX_TOKEN_TTL });

  async function attempt(request: LoginRequest, facts: Attempt): Promise<TokenAnswer> {
    const chain = request.chain();
    if (!chain || chain.length === 0) throw noCertificate();
    const leafDer = (facts.leafDer = chain[0]!);
    const tooLarge = leafTooLarge(leafDer);
    if (tooLarge) throw certificateTooLarge(tooLarge);
    const identityId = facts.identityId;
    if (!identityId) throw identityNotFound();

    // A remembered row is a guess the token's write checks; a guess that is stale, or that refuses, is read again.
    let row = identities.remembered(identityId);
    let remembered = row !== undefined;
    let leaf: DecodedLeaf | null = null;
    for (let tries = 1; ; tries++) {
      row ??= (await identities.read(identityId)) ?? undefined;
      if (!row) throw identityNotFound();
      try {
        const answer = await issueFor(row);
        if (answer) return answer;
      } catch (err) {
        if (!remembered || !isRefusal(err)) throw err;
      }
      identities.forget(identityId);
      if (tries >= MAX_TRIES) throw settingsChanged();
      row = undefined;
      remembered = false;
    }

    async function issueFor(row: IdentityRow): Promise<TokenAnswer | null> {
      facts.orgId = row.identity.orgId;
      const tlsCertAuth = row.tlsCertAuth;
      if (!tlsCertAuth) throw tlsCertAuthNotAttached();
      leaf ??= await decodeLeaf(leafDer);
      if (!leaf) throw certificateUndecodable();
      facts.leaf = leaf.summary;
      const now = deps.clock();
      await verify(deps, tlsCertAuth, row.org.rootOrgId, leaf, chain!, now);
      const orgId = await scopeOrganization(deps.db, row.identity.id, row.org, request.organizationSlug, (id) => (facts.orgId = id));
      return issue({
        identityId: row.identity.id,
        orgId,
        home: row.org,
        tlsCertAuth,
        leafDer,
        leaf,
        clientIp: request.clientIp,
        now,
      });
    }
  }

  return async (request) => {
    const identityId = isUuid(request.identityId) ? request.identityId.toLowerCase() : null;
    const facts: Attempt = { identityId, orgId: null, leafDer: null, leaf: null, clientIp: request.clientIp };
    try {
      return await attempt(request, facts);
    } catch (err) {
      if (err instanceof AppError) await recordFailedLogin(deps.db, { ...facts, reasonCode: err.reasonCode ?? null });
      throw err;
    }
  };
}

/** An answer the checks gave (4xx), as opposed to a fault: only the former may come from a stale remembered row. */
const isRefusal = (err: unknown) => err instanceof AppError && err.statusCode < 500;
