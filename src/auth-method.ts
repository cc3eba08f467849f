/** The one auth method this service implements: the tokens' `authMethod` claim and their rows' auth_method. */
export const AUTH_METHOD = "tls-cert-auth";
