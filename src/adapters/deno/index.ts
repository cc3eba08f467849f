import { runService } from "../shared/main.ts";
import { startDenoServer } from "./server.ts";

await runService("deno", startDenoServer);
