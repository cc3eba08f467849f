"""A relying party that knows only certauth's issuer URL, with PyJWT: reads the OpenID discovery document
(requests), then the JWKS it names (PyJWKClient), and verifies the token's signature, iss and aud.
Prints one JSON line: {"claims": {...}} when the token is accepted, {"refused": "<PyJWT error>"} when not.
usage: python3 pyjwt-relying-party.py <issuer> <caFile> <audience> <token>
The CA file is the only trust: requests gets it as verify=, PyJWKClient's urllib through SSL_CERT_FILE."""
import json
import os
import sys

import jwt
import requests

issuer, ca_file, audience, token = sys.argv[1:]
os.environ["SSL_CERT_FILE"] = ca_file

config = requests.get(f"{issuer}/.well-known/openid-configuration", verify=ca_file, timeout=10).json()
if config["issuer"] != issuer:
    raise SystemExit(f"discovery names issuer {config['issuer']!r}, expected {issuer!r}")

signing_key = jwt.PyJWKClient(config["jwks_uri"]).get_signing_key_from_jwt(token)
try:
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=config["id_token_signing_alg_values_supported"],
        audience=audience,
        issuer=issuer,
        options={"require": ["iss", "sub", "aud", "exp", "iat"]},
    )
    print(json.dumps({"claims": claims, "alg": jwt.get_unverified_header(token)["alg"]}))
except jwt.InvalidTokenError as err:
    print(json.dumps({"refused": type(err).__name__}))
