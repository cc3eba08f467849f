import { runService } from "../shared/main.ts";
import { startBunServer } from "./server.ts";

await runService("bun", startBunServer);
