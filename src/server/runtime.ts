import { bun } from "../adapters/bun/index.ts";
import { node } from "../adapters/node/index.ts";
import type { Runtime } from "../adapters/serve.ts";

/** The runtime the CLI runs on: Bun (npm bin, single binary) or Node. */
export function hostRuntime(): Runtime {
  return "Bun" in globalThis ? bun : node;
}
