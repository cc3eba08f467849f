/** A TLS cert auth configuration the engine cannot use; the message is a sentence for a 400 on the admin API. */
export class TrustConfigError extends Error {
  override readonly name: string = "TrustConfigError";
}

/**
 * A configuration that could not be checked now, not one that is wrong: a CRL in it waits for the decoder, which
 * is at capacity. A TrustConfigError still (whatever handles those fails closed on it); the admin API answers 503.
 */
export class TrustConfigBusy extends TrustConfigError {
  override readonly name = "TrustConfigBusy";
}
