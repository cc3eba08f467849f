import { output, withDatabase, type Command } from "./command.ts";
import { signerFor } from "./signer.ts";

export const keyCommands: Command[] = [
  {
    path: ["keys", "rotate"],
    summary: "Start signing tokens with a fresh key; the old keys stay in the JWKS until their tokens have expired.",
    details:
      "Every instance picks the new key up within 30 s. Under TOKEN_SIGNING_ALG=HS256 there is no key to rotate: change AUTH_SECRET instead.",
    async run(ctx) {
      const result = await withDatabase(ctx.env, async (database, config) => {
        const signer = await signerFor(database, config);
        const kid = await signer.rotate(config.MAX_TOKEN_TTL);
        return { kid, alg: signer.alg, oldKeysPublishedForSeconds: config.MAX_TOKEN_TTL };
      });
      output(ctx, result, () => `Rotated: new ${result.alg} signing key ${result.kid}; old keys stay published for up to ${result.oldKeysPublishedForSeconds} s`);
    },
  },
];
