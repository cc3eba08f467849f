/** The benchmark's certificates, generated per run with the test fixtures (P-256 throughout, as PRODUCT.md's measurements). */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { bundle, makeCa, makeCrl, makeLeaf, OID_SERVER_AUTH, randomSerial } from "../tests/fixtures/pki.ts";

export interface BenchPki {
  /** The identities' CA (PEM) and an intermediate below it for chain mode. */
  caPem: string;
  /** CRL of `revokedCount` serials issued by the CA, none of them the benchmark's clients. */
  crlPem: string;
  /** A small CRL of the CA (no serials), served from a URL for the crl-url cases. */
  smallCrlDer: Uint8Array;
  /** The CA and its key as files, for the OCSP responder. */
  caFile: string;
  caKeyFile: string;
  /** openssl ocsp's index.txt, listing the direct-mode client as valid. */
  ocspIndexFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** Leaf issued by the CA (direct mode). */
  direct: { certFile: string; keyFile: string };
  /** Leaf issued by the intermediate, sent with the intermediate (chain mode). */
  chain: { certFile: string; keyFile: string };
}

export async function makeBenchPki(dir: string, revokedCount: number): Promise<BenchPki> {
  const root = await makeCa({ subject: "CN=Bench Identity Root" });
  const inter = await makeCa({ subject: "CN=Bench Identity Intermediate", issuer: root });
  const direct = await makeLeaf({ issuer: root, cn: "bench-client", sans: { dns: ["bench-client.example.com"] } });
  const viaInter = await makeLeaf({ issuer: inter, cn: "bench-client", sans: { dns: ["bench-client.example.com"] } });
  const serverCa = await makeCa({ subject: "CN=Bench Server CA" });
  const server = await makeLeaf({ issuer: serverCa, cn: "localhost", eku: [OID_SERVER_AUTH], sans: { dns: ["localhost"], ip: ["127.0.0.1"] } });
  const revoked = Array.from({ length: revokedCount }, randomSerial);
  const crl = await makeCrl({ issuer: root, revoked });

  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const time = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  return {
    caPem: root.pem,
    crlPem: crl.pem,
    smallCrlDer: (await makeCrl({ issuer: root, revoked: [] })).der,
    caFile: file("ca.crt", root.pem),
    caKeyFile: file("ca.key", root.keyPem),
    ocspIndexFile: file("index.txt", `V\t${time(direct.cert.notAfter)}\t\t${direct.serial.toUpperCase()}\tunknown\t/CN=bench-client\n`),
    serverCertFile: file("server.crt", bundle(server)),
    serverKeyFile: file("server.key", server.keyPem),
    direct: { certFile: file("direct.crt", bundle(direct)), keyFile: file("direct.key", direct.keyPem) },
    chain: { certFile: file("chain.crt", bundle(viaInter, inter)), keyFile: file("chain.key", viaInter.keyPem) },
  };
}
