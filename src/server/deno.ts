import { deno } from "../adapters/deno/index.ts";
import { runService } from "./main.ts";

await runService(deno);
