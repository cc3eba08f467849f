import type { Runtime } from "../serve.ts";
import { serve } from "./server.ts";

export const deno: Runtime = { name: "deno", serve };
