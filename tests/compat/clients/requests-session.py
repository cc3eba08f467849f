"""Python requests with one Session, as the README shows it: several logins over one kept-alive connection,
then more after the Session's connections are closed, then /api/v1/auth/token/self with the last token.
Prints one JSON line with every exchange's status and how many connections the Session opened for them.
usage: python3 requests-session.py <baseUrl> <caFile> <certFile> <keyFile> <identityId> <logins>"""
import json
import sys

import requests

base_url, ca_file, cert_file, key_file, identity_id, logins = sys.argv[1:]

session = requests.Session()
session.cert = (cert_file, key_file)


# verify= on each call: a Session's own verify loses to REQUESTS_CA_BUNDLE when that is set (psf/requests#3829).
def login():
    return session.post(f"{base_url}/api/v1/auth/tls-cert-auth/login", json={"identityId": identity_id}, verify=ca_file)


def connections_opened():
    return sum(pool.num_connections for pool in session.get_adapter(base_url).poolmanager.pools._container.values())


rounds = []
for _ in range(2):
    answers = [login() for _ in range(int(logins))]
    rounds.append({"statuses": [a.status_code for a in answers], "connections": connections_opened()})
    session.close()
token = answers[-1].json()["accessToken"]
me = session.get(f"{base_url}/api/v1/auth/token/self", headers={"Authorization": f"Bearer {token}"}, verify=ca_file)
print(json.dumps({"rounds": rounds, "self": {"status": me.status_code, "body": me.json()}}))
