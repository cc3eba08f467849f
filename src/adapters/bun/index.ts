import type { Runtime } from "../serve.ts";
import { collectAfterStatements } from "./collector.ts";
import { serve } from "./server.ts";

export const bun: Runtime = { name: "bun", serve, onDatabaseStatement: collectAfterStatements() };
