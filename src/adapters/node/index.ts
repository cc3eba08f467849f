import { runService } from "../shared/main.ts";
import { startNodeServer } from "./server.ts";

await runService("node", startNodeServer);
