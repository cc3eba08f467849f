import type { Runtime } from "../serve.ts";
import { serve } from "./server.ts";

export const node: Runtime = { name: "node", serve };
