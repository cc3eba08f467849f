import { Worker } from "node:worker_threads";

/**
 * Node runs the TypeScript sources through tsx, whose loader hooks do not reach worker threads on Node 20: the
 * worker registers them itself, then imports its entry.
 */
export function startTypeScriptWorker(entry: URL): Worker {
  return new Worker(`import("tsx/esm/api").then((tsx) => tsx.register()).then(() => import(${JSON.stringify(entry.href)}))`, { eval: true });
}
