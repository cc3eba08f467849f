/** Every answer a login refuses with, and the verification verdict's HTTP mapping, in one place. */
import { badRequest, notFound, unauthorized, unavailable } from "../errors.ts";
import type { Verdict } from "../pki/index.ts";

export const noCertificate = () =>
  badRequest(
    "No client certificate was presented for this connection's TLS session. Connect with a client certificate (mutual TLS); a resumed session has the certificate of the handshake that created it, or none.",
  );
export const certificateTooLarge = (sentence: string) => badRequest(sentence);
export const certificateUndecodable = () => badRequest("The client certificate could not be decoded.");
export const identityNotFound = () => notFound("Identity not found.");
export const tlsCertAuthNotAttached = () => notFound("TLS cert auth is not attached to this identity.");
export const subOrganizationNotFound = (slug: string) => notFound(`Organization "${slug}" not found for this identity.`);
export const notAMember = () => unauthorized("This identity is not a member of that sub-organization.", { reason: "sub_org_unauthorized" });
export const settingsChanged = () => unavailable("The identity's configuration changed during the login; try again.");

/** A refused chain: 400 when the leaf itself is unusable, otherwise 401 with the engine's reason code. */
export function refusedChain(verdict: Verdict & { ok: false }) {
  if (verdict.reason === "bad_certificate") return badRequest(verdict.message);
  return unauthorized(verdict.message, { reason: verdict.reason });
}
