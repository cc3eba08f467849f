import { base64url, decodeProtectedHeader, importJWK, jwtVerify, SignJWT, type CryptoKey as JoseKey, type JWK, type JWTPayload } from "jose";
import { KeyStore, type AsymmetricAlg, type StoredKey } from "./key-store.ts";
import { ACTIVE_KEY_REFRESH_MS, replacedKeysPublishedUntil, rotateSigningKey } from "./rotate.ts";

export type SigningAlg = AsymmetricAlg | "HS256";

/** Signs and verifies access tokens; `kid`s let every instance and every downstream verifier find the key. */
export interface TokenSigner {
  readonly alg: SigningAlg;
  /** ISSUER_URL: the `iss` of every token signed. */
  readonly issuer: string;
  sign(claims: JWTPayload, issuedAt: number, expiresAt: number): Promise<string>;
  /** Signature, algorithm, expiry and issuer; throws on any failure. */
  verify(token: string, now: Date): Promise<JWTPayload>;
  jwks(now: Date): Promise<{ keys: JWK[] }>;
  /** Starts signing with a fresh key (asymmetric algorithms); old keys stay published for `keepOldFor` seconds. */
  rotate(keepOldFor: number): Promise<string>;
}

/**
 * A synchronous JWS signature (the raw `r||s` for ES256) over a signing input, made from a private JWK.
 * Adapters inject node:crypto's: jose is WebCrypto-only, and a WebCrypto signature awaited on its own goes
 * through the runtime's thread pool, which costs more than the signature itself.
 */
export type NativeSign = (alg: AsymmetricAlg, privateJwk: JWK) => (signingInput: Uint8Array) => Uint8Array;

const HS256_KID = "hs256";
const textEncoder = new TextEncoder();

export async function createSigner(options: {
  alg: SigningAlg;
  keys: KeyStore;
  authSecret?: string;
  clock: () => Date;
  nativeSign?: NativeSign;
  issuer: string;
  /** Refuse tokens whose `iss` is another issuer: when ISSUER_URL is set, not for the default that follows PORT. */
  verifyIssuer: boolean;
  /** MAX_TOKEN_TTL: how long a token signed now may live, so how long its key must stay published. */
  maxTokenTtl: number;
}): Promise<TokenSigner> {
  const checkIssuer = issuerCheck(options.issuer, options.verifyIssuer);
  return options.alg === "HS256"
    ? hmacSigner(options.authSecret ?? (await options.keys.sharedSecret("auth_secret")), options.issuer, checkIssuer)
    : asymmetricSigner(options.alg, options.keys, options.clock, options.issuer, checkIssuer, options.maxTokenTtl, options.nativeSign);
}

type IssuerCheck = (payload: JWTPayload) => JWTPayload;

/** A public key tokens are verified with; `publishUntil` is set once the key was rotated out. */
interface VerifyKey {
  key: JoseKey;
  alg: string;
  publishUntil: Date | null;
}

/**
 * A token signed by certauth with another `iss` was issued under another ISSUER_URL: refused. One without `iss`
 * was signed before certauth set it, by certauth's own key (already verified), so it is accepted until it expires.
 */
function issuerCheck(issuer: string, verify: boolean): IssuerCheck {
  return (payload) => {
    if (verify && payload.iss !== undefined && payload.iss !== issuer) throw new Error("token from another issuer");
    return payload;
  };
}

function hmacSigner(secret: string, issuer: string, checkIssuer: IssuerCheck): TokenSigner {
  const key = new TextEncoder().encode(secret);
  return {
    alg: "HS256",
    issuer,
    sign: (claims, iat, exp) =>
      new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT", kid: HS256_KID }).setIssuer(issuer).setIssuedAt(iat).setExpirationTime(exp).sign(key),
    async verify(token, now) {
      const { payload } = await jwtVerify(token, key, { algorithms: ["HS256"], currentDate: now });
      return checkIssuer(payload);
    },
    jwks: async () => ({ keys: [] }),
    rotate: async () => {
      throw new Error("HS256 uses AUTH_SECRET; rotate it by changing AUTH_SECRET");
    },
  };
}

async function asymmetricSigner(
  alg: AsymmetricAlg,
  keys: KeyStore,
  clock: () => Date,
  issuer: string,
  checkIssuer: IssuerCheck,
  maxTokenTtl: number,
  nativeSign?: NativeSign,
): Promise<TokenSigner> {
  const verifyKeys = new Map<string, { loadedAt: number; found: Promise<VerifyKey | null> }>();
  let active = await toActive(await keys.activeKey(alg));
  let checkedAt = Date.now();

  async function toActive(stored: StoredKey) {
    return {
      kid: stored.kid,
      key: (await importJWK(stored.privateJwk!, alg)) as JoseKey,
      native: nativeSign?.(alg, stored.privateJwk!),
      // The protected header is the same for every token this key signs.
      header: base64url.encode(JSON.stringify({ alg, typ: "JWT", kid: stored.kid })),
    };
  }

  async function currentKey() {
    if (Date.now() - checkedAt > ACTIVE_KEY_REFRESH_MS) {
      checkedAt = Date.now();
      const stored = await keys.unretiredKey(alg);
      if (stored) active = await toActive(stored);
      // None unretired: an instance started with another TOKEN_SIGNING_ALG retired it. Keep signing with it rather than
      // make a key nobody retires, and keep it published for the tokens this instance still signs with it.
      else await keys.keepPublished(active.kid, replacedKeysPublishedUntil(maxTokenTtl, clock()));
    }
    return active;
  }

  /** Read again after ACTIVE_KEY_REFRESH_MS, so a key another instance retired stops verifying once unpublished. */
  function verifyKey(kid: string) {
    let entry = verifyKeys.get(kid);
    if (!entry || Date.now() - entry.loadedAt > ACTIVE_KEY_REFRESH_MS) {
      const found = keys.findKey(kid).then(async (stored: StoredKey | undefined) =>
        stored ? { key: (await importJWK(stored.publicJwk, stored.alg)) as JoseKey, alg: stored.alg, publishUntil: stored.retiredAt ? stored.publishUntil : null } : null,
      );
      entry = { loadedAt: Date.now(), found };
      verifyKeys.set(kid, entry);
      // A kid nobody knows is not remembered, so a key added by another instance is found later.
      found.then((key) => key ?? verifyKeys.delete(kid), () => verifyKeys.delete(kid));
    }
    return entry.found;
  }

  return {
    alg,
    issuer,
    async sign(claims, iat, exp) {
      const { kid, key, native, header } = await currentKey();
      if (native) {
        // The same compact JWS SignJWT makes: protected header, then the claims with iss, iat and exp.
        const input = `${header}.${base64url.encode(JSON.stringify({ ...claims, iss: issuer, iat, exp }))}`;
        return `${input}.${base64url.encode(native(textEncoder.encode(input)))}`;
      }
      return new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT", kid }).setIssuer(issuer).setIssuedAt(iat).setExpirationTime(exp).sign(key);
    },
    async verify(token, now) {
      const header = decodeProtectedHeader(token);
      if (typeof header.kid !== "string" || header.kid.length > 200) throw new Error("token has no usable kid");
      const found = await verifyKey(header.kid);
      if (!found || found.alg !== header.alg) throw new Error("unknown signing key");
      if (found.publishUntil && found.publishUntil <= now) throw new Error("the signing key was retired and is no longer published");
      const { payload } = await jwtVerify(token, found.key, { algorithms: [found.alg], currentDate: now });
      return checkIssuer(payload);
    },
    async jwks(now) {
      const published = await keys.publishedKeys(now);
      return { keys: published.map((k) => k.publicJwk) };
    },
    async rotate(keepOldFor) {
      const rotated = await rotateSigningKey(keys, alg, keepOldFor, clock());
      verifyKeys.clear();
      active = await toActive(await keys.activeKey(alg));
      checkedAt = Date.now();
      return rotated.kid;
    },
  };
}
