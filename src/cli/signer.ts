import { issuerUrl, type Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import { keyEncryptionKey } from "../server/bootstrap.ts";
import { KeyEncryption, KeyStore } from "../tokens/key-store.ts";
import { createSigner, type TokenSigner } from "../tokens/signer.ts";

/** The server's signer, over the same keys (KEY_ENCRYPTION_KEY or the DATA_DIR key file). */
export async function signerFor(database: Database, config: Config): Promise<TokenSigner> {
  const keys = new KeyStore(database.db, await KeyEncryption.fromSecret(keyEncryptionKey(config)));
  return createSigner({
    alg: config.TOKEN_SIGNING_ALG,
    keys,
    authSecret: config.AUTH_SECRET,
    clock: () => new Date(),
    issuer: issuerUrl(config),
    verifyIssuer: config.ISSUER_URL !== undefined,
    maxTokenTtl: config.MAX_TOKEN_TTL,
  });
}
