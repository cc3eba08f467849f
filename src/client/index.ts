/**
 * `certauth/client`: log in with a client certificate and keep an access token fresh, on Bun, Deno and Node.
 * Only the login and renew routes' wire shapes are used, so it works against any server with this login route,
 * Infisical's included.
 */
export { login } from "./login.ts";
export { tokenSource, type TokenSource, type TokenSourceOptions } from "./token-source.ts";
export type { ClientOptions } from "./options.ts";
export type { LoginAnswer } from "./routes.ts";
export type { ClientEvent } from "./keeper.ts";
export {
  CertauthConnectionError,
  CertauthCredentialsError,
  CertauthError,
  CertauthProtocolError,
  CertauthStatusError,
  type CertauthErrorCode,
  type ReasonCode,
  type Route,
} from "./errors.ts";
