/**
 * CRLs over https, against a real local HTTPS server whose certificate a test CA issued. The server certificate is
 * verified with the runtime's trusted CAs: certauth has no setting of its own for them; the runtime reads
 * NODE_EXTRA_CA_CERTS (a file of extra CAs) once at process start, so that case runs as its own process.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseAllowedHosts } from "../../src/net/allowed-hosts.ts";
import { fetchRevocationUrl, FetchRefused } from "../../src/revocation/fetch.ts";
import { bundle, makeCa, makeCrl, makeLeaf, OID_SERVER_AUTH } from "../fixtures/pki.ts";

const ROOT = resolve(import.meta.dir, "../..");
const BUN = join(ROOT, "node_modules/.bin/bun");
const dir = mkdtempSync(join(tmpdir(), "certauth-https-crl-"));
const serverCa = await makeCa({ subject: "CN=Private Web CA" });
const serverCert = await makeLeaf({ issuer: serverCa, cn: "127.0.0.1", eku: [OID_SERVER_AUTH], sans: { ip: ["127.0.0.1"] } });
const crl = await makeCrl({ issuer: await makeCa({ subject: "CN=Some Identity CA" }) });

let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer({ cert: bundle(serverCert, serverCa), key: serverCert.keyPem }, (req, res) => res.writeHead(200).end(crl.der));
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/ca.crl`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("a CRL over https", () => {
  it("is refused when the server's certificate does not chain to a CA the runtime trusts", async () => {
    const refused = await fetchRevocationUrl(url, parseAllowedHosts("")).catch((err) => err);
    expect(refused).toBeInstanceOf(FetchRefused);
    expect((refused as Error).message).toMatch(/certificate/i);
  });

  it("is fetched when the runtime trusts that CA through NODE_EXTRA_CA_CERTS", async () => {
    const caFile = join(dir, "web-ca.pem");
    writeFileSync(caFile, serverCa.pem);
    const script = `
      import { fetchRevocationUrl } from "./src/revocation/fetch.ts";
      import { parseAllowedHosts } from "./src/net/allowed-hosts.ts";
      const result = await fetchRevocationUrl(${JSON.stringify(url)}, parseAllowedHosts(""));
      console.log(JSON.stringify({ status: result.status, bytes: result.status === 200 ? result.body.length : 0 }));`;
    // Asynchronously: the server answering it lives in this process.
    const child = spawn(BUN, ["-e", script], { cwd: ROOT, env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    expect(await new Promise((done) => child.on("exit", done))).toBe(0);
    expect(stderr).toBe("");
    expect(JSON.parse(stdout)).toEqual({ status: 200, bytes: crl.der.length });
  });
});
