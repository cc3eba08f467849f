// Node's https with its default agent (https.globalAgent: keep-alive, TLS session cache), as the README shows it.
// Logs in several times, each on a new connection (the agent's sockets are destroyed in between, as an idle
// timeout would), then calls /api/v1/auth/token/self with the last token on a new connection too.
// Prints one JSON line: every exchange's status and whether its connection resumed a TLS session.
// usage: node node-default-agent.mjs <baseUrl> <caFile> <certFile> <keyFile> <identityId> <logins>
import https from "node:https";
import { readFileSync } from "node:fs";

const [baseUrl, caFile, certFile, keyFile, identityId, logins] = process.argv.slice(2);
const tls = { ca: readFileSync(caFile), cert: readFileSync(certFile), key: readFileSync(keyFile) };

function send(path, options, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, baseUrl), { ...tls, ...options }, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode, json: JSON.parse(text), reused: req.socket.isSessionReused() }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const login = () =>
  send("/api/v1/auth/tls-cert-auth/login", { method: "POST", headers: { "content-type": "application/json" } }, JSON.stringify({ identityId }));

const exchanges = [];
for (let i = 0; i < Number(logins); i++) {
  exchanges.push(await login());
  https.globalAgent.destroy();
}
const self = await send("/api/v1/auth/token/self", { headers: { authorization: `Bearer ${exchanges.at(-1).json.accessToken}` } });
exchanges.push(self);
console.log(JSON.stringify({
  agentIsDefault: https.globalAgent.maxCachedSessions > 0,
  logins: exchanges.slice(0, -1).map(({ status, reused, json }) => ({ status, reused, error: json.error })),
  self: { status: self.status, reused: self.reused, body: self.json },
}));
