import { request } from "node:https";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bootstrap } from "../server/bootstrap.ts";
import { listen, stopOnSignal } from "../server/main.ts";
import { hostRuntime } from "../server/runtime.ts";
import { createOrganization } from "../admin/organizations.ts";
import { createIdentity } from "../admin/identities.ts";
import { attachBody, attachTlsCertAuth } from "../admin/tls-cert-auth.ts";
import { crlSourceFor } from "../revocation/crls.ts";
import { OPERATOR, validate } from "./admin.ts";
import { CliError, stringOption, type Command } from "./command.ts";
import { makeDevPki } from "./dev-pki.ts";

const CLIENT_NAME = "quickstart-client";
const LOGIN_PATH = "/api/v1/auth/tls-cert-auth/login";

interface Files {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

async function writePki(dir: string): Promise<{ files: Files; ca: string; clientCert: string; clientKey: string }> {
  const pki = await makeDevPki(CLIENT_NAME);
  const files: Files = {
    caCert: join(dir, "ca.crt"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
  };
  const write = (file: string, text: string, mode: number) => {
    writeFileSync(file, text, { mode });
    chmodSync(file, mode);
  };
  write(files.caCert, pki.caCertPem, 0o644);
  write(join(dir, "ca.key"), pki.caKeyPem, 0o600);
  write(files.serverCert, pki.serverCertPem, 0o644);
  write(files.serverKey, pki.serverKeyPem, 0o600);
  write(files.clientCert, pki.clientCertPem, 0o644);
  write(files.clientKey, pki.clientKeyPem, 0o600);
  return { files, ca: pki.caCertPem, clientCert: pki.clientCertPem, clientKey: pki.clientKeyPem };
}

/** A real mutual-TLS login, as curl would make it. */
function mtlsLogin(port: number, identityId: string, tls: { ca: string; cert: string; key: string }): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const body = JSON.stringify({ identityId });
    const req = request(
      {
        host: "127.0.0.1",
        servername: "localhost",
        port,
        path: LOGIN_PATH,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        agent: false,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => done({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error("the login timed out")));
    req.on("error", fail);
    req.end(body);
  });
}

function decodeJwt(token: string): { header: unknown; payload: Record<string, unknown> } {
  const [header, payload] = token
    .split(".")
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8")));
  return { header, payload };
}

const quote = (text: string) => (/^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`);

export const quickstartCommands: Command[] = [
  {
    path: ["quickstart"],
    summary: "Make a dev CA and certificates, an organization and an identity, start the server and log in over mTLS.",
    options: {
      dir: { type: "string", value: "<dir>", description: "folder for the certificates and the database (default: a new temp folder)" },
      port: { type: "string", value: "<port>", description: "port to listen on (default: a free one)" },
      exit: { type: "boolean", description: "stop after the login instead of serving until Ctrl-C" },
    },
    details:
      "Everything lives in the folder: delete it when done. Nothing outside it is read or changed, and no certauth variable of the shell applies.",
    async run(ctx) {
      const dir = resolve(stringOption(ctx, "dir") ?? mkdtempSync(join(tmpdir(), "certauth-quickstart-")));
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const port = stringOption(ctx, "port") ?? "0";
      const { files, ca, clientCert, clientKey } = await writePki(dir);
      // A throwaway setup with a configuration of its own: nothing from the shell (a deployment's DATABASE_URL,
      // AUTH_SECRET, KEY_ENCRYPTION_KEY, TOKEN_SIGNING_ALG, …) applies.
      const dataDir = join(dir, "data");
      const env: Record<string, string> = {
        DATA_DIR: dataDir,
        TLS_CERT_FILE: files.serverCert,
        TLS_KEY_FILE: files.serverKey,
        PORT: port,
        HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
      };
      const notes: string[] = [];
      const service = await bootstrap(env, (line) => notes.push(line));
      const { db } = service.database;
      const org = await createOrganization(db, OPERATOR, { name: "Quickstart", slug: "quickstart" });
      const identity = await createIdentity(db, OPERATOR, { name: CLIENT_NAME, organizationId: org.id, role: "member" });
      await attachTlsCertAuth(db, OPERATOR, identity.id, validate(attachBody, { caCertificate: ca, allowedCommonNames: CLIENT_NAME }), crlSourceFor(service.config));
      const runtime = hostRuntime();
      const server = await listen(runtime, service);
      const login = await mtlsLogin(server.port, identity.id, { ca, cert: clientCert, key: clientKey }).catch(async (err) => {
        await server.close();
        await service.database.close();
        throw new CliError(`the quickstart login failed: ${(err as Error).message}`);
      });
      if (login.status !== 200) {
        await server.close();
        await service.database.close();
        throw new CliError(`the quickstart login answered ${login.status}: ${login.body.slice(0, 300)}`);
      }
      const answer = JSON.parse(login.body) as { accessToken: string; expiresIn: number };
      const token = decodeJwt(answer.accessToken);
      const url = `https://localhost:${server.port}${LOGIN_PATH}`;
      const curl = `curl --cacert ${quote(files.caCert)} --cert ${quote(files.clientCert)} --key ${quote(files.clientKey)} -H 'content-type: application/json' -d '{"identityId":"${identity.id}"}' ${url}`;
      const adminTokenFile = join(dataDir, "admin-token");
      if (ctx.json) {
        ctx.print(JSON.stringify({ dir, port: server.port, organizationId: org.id, identityId: identity.id, curl, adminTokenFile, expiresIn: answer.expiresIn, token }, null, 2));
      } else {
        ctx.print(
          [
            `certauth quickstart: a mutual-TLS login worked (${runtime.name}, embedded PGlite).`,
            "",
            `  folder        ${dir}`,
            `  CA            ${files.caCert}`,
            `  client        ${files.clientCert} + ${files.clientKey} (CN=${CLIENT_NAME})`,
            `  organization  ${org.slug} (${org.id})`,
            `  identity      ${identity.id}`,
            `  admin token   ${adminTokenFile}`,
            "",
            "Log in yourself:",
            "",
            `  ${curl}`,
            "",
            `The token (expires in ${answer.expiresIn} s), decoded:`,
            "",
            JSON.stringify(token.header),
            JSON.stringify(token.payload, null, 2),
            "",
          ].join("\n"),
        );
      }
      if (ctx.values.exit) {
        await server.close();
        await service.database.close();
        return 0;
      }
      ctx.print(`Serving on https://localhost:${server.port} until Ctrl-C. Try the curl above; delete ${dir} when done.`);
      stopOnSignal(service, server);
      await new Promise(() => {});
    },
  },
];
