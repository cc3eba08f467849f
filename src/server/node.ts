import { node } from "../adapters/node/index.ts";
import { runService } from "./main.ts";

await runService(node);
