/** The decoding thread of CrlDecoding: one CRL's DER in, its decoding (buffers transferred) or a failure out. */
import { parentPort } from "node:worker_threads";
import { decodeCrl, transferablesOf } from "../pki/index.ts";

parentPort!.on("message", (der: Uint8Array<ArrayBuffer>) => {
  let decoded;
  try {
    decoded = decodeCrl(der);
  } catch (err) {
    parentPort!.postMessage({ error: (err as Error).message ?? String(err) });
    return;
  }
  parentPort!.postMessage({ decoded }, transferablesOf(decoded));
});
// Loaded: the time cap counts from here, not from the thread's start.
parentPort!.postMessage({ ready: true });
