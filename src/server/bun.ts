import { bun } from "../adapters/bun/index.ts";
import { runService } from "./main.ts";

await runService(bun);
