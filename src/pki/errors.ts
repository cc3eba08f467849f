/** A TLS cert auth configuration the engine cannot use; the message is a sentence for a 400 on the admin API. */
export class TrustConfigError extends Error {
  override readonly name = "TrustConfigError";
}
