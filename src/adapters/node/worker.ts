import { Worker } from "node:worker_threads";

/**
 * Node runs the TypeScript sources through tsx, whose loader hooks do not reach worker threads on Node 20: the
 * worker registers them itself (tsx resolved here, whatever the working directory), then imports its entry.
 */
export function startTypeScriptWorker(entry: URL): Worker {
  const tsx = import.meta.resolve("tsx/esm/api");
  return new Worker(`import(${JSON.stringify(tsx)}).then((tsx) => tsx.register()).then(() => import(${JSON.stringify(entry.href)}))`, { eval: true });
}
