/** The revocation servers of the ocsp-cached and crl-url cases: a real `openssl ocsp` responder and an HTTP server of one CRL. */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { freePort } from "../tests/helpers/ports.ts";
import type { BenchPki } from "./pki.ts";

export interface RevocationServers {
  ocspUrl: string;
  crlUrl: string;
  stop(): Promise<void>;
}

export async function startRevocationServers(pki: BenchPki): Promise<RevocationServers> {
  const crlServer = createServer((_req, res) => res.writeHead(200, { "content-type": "application/pkix-crl" }).end(pki.smallCrlDer));
  await new Promise<void>((done) => crlServer.listen(0, "127.0.0.1", done));
  const port = await freePort();
  const responder = spawn(
    "openssl",
    ["ocsp", "-index", pki.ocspIndexFile, "-port", `${port}`, "-rsigner", pki.caFile, "-rkey", pki.caKeyFile, "-CA", pki.caFile, "-ndays", "1"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  await new Promise<void>((done, fail) => {
    const read = (chunk: Buffer) => {
      output += chunk;
      if (output.includes("aiting for OCSP client connections")) done();
    };
    responder.stdout!.on("data", read);
    responder.stderr!.on("data", read);
    responder.once("exit", () => fail(new Error(`openssl ocsp exited: ${output}`)));
  });
  return {
    ocspUrl: `http://127.0.0.1:${port}`,
    crlUrl: `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}/ca.crl`,
    async stop() {
      crlServer.closeAllConnections();
      crlServer.close();
      if (responder.exitCode === null && responder.signalCode === null) {
        const exited = new Promise((done) => responder.once("exit", done));
        responder.kill();
        await exited;
      }
    },
  };
}
