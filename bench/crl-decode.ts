/**
 * What decoding a CRL costs, by entry count: on the event loop (decodeCrl), through the service's decoder (worker
 * round trip, what crosses back), a repeat of the same bytes (the content cache), and how late a 1 ms timer fires on the event loop
 * while the worker decodes. `bun bench/crl-decode.ts [entries…]`; runs on Node (`node --import tsx`) and Deno too.
 */
import { decodeCrl, transferablesOf } from "../src/pki/index.ts";
import { CrlDecoding, setWorkerStarter } from "../src/revocation/crl-decoding.ts";
import { startTypeScriptWorker } from "../src/adapters/node/worker.ts";
import { Metrics } from "../src/metrics/registry.ts";
import { makeCa, makeCrlDer } from "../tests/fixtures/pki.ts";

if (!("Bun" in globalThis) && !("Deno" in globalThis)) setWorkerStarter(startTypeScriptWorker);
const counts = process.argv.slice(2).map(Number).filter((n) => n >= 0);
const ca = await makeCa({ subject: "CN=Bench CRL CA" });
const ms = (from: number) => Math.round((performance.now() - from) * 10) / 10;
// Warm the decoder up, so the first row is not the JIT's.
for (let i = 0; i < 5; i++) decodeCrl(await makeCrlDer({ issuer: ca, revoked: Array.from({ length: 2_000 }, (_, k) => (k + 1).toString(16)) }));
const rows = [];
for (const entries of counts.length ? counts : [100, 1_000, 3_000, 10_000, 50_000, 200_000]) {
  const der = await makeCrlDer({ issuer: ca, revoked: Array.from({ length: entries }, (_, i) => (0x1000000 + i * 7).toString(16)) });
  const decoding = new CrlDecoding(new Metrics(), { workerFromBytes: 0 });
  let worstLagMs = 0;
  let ticking = true;
  const tick = () => {
    const due = performance.now() + 1;
    setTimeout(() => {
      worstLagMs = Math.max(worstLagMs, performance.now() - due);
      if (ticking) tick();
    }, 1);
  };
  // A first small decode starts the worker, so the figure below is the decode and the round trip.
  await decoding.decode(await makeCrlDer({ issuer: ca, revoked: ["01"] }));
  tick();
  let started = performance.now();
  await decoding.decode(der);
  const workerMs = ms(started);
  ticking = false;
  started = performance.now();
  await decoding.decode(der);
  const repeatMs = ms(started);
  decoding.close();
  started = performance.now();
  const decoded = decodeCrl(der);
  const eventLoopMs = ms(started);
  const crossing = transferablesOf(decoded).reduce((sum, b) => sum + b.byteLength, 0);
  rows.push({ entries, derBytes: der.length, eventLoopMs, workerMs, worstTimerLagMsDuringWorker: Math.round(worstLagMs * 10) / 10, crossingBytes: crossing, repeatMs });
}
console.table(rows);
