import { node } from "../adapters/node/index.ts";
import { startTypeScriptWorker } from "../adapters/node/worker.ts";
import { setWorkerStarter } from "../revocation/crl-decoding.ts";
import { runService } from "./main.ts";

setWorkerStarter(startTypeScriptWorker);
await runService(node);
