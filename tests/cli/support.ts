/** Runs CLI command lines in-process, capturing what they print. */
import { run } from "../../src/cli/main.ts";

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function cli(env: Record<string, string>, ...argv: string[]): Promise<CliResult> {
  let out = "";
  let err = "";
  const code = await run(argv, env, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

export async function cliJson<T = any>(env: Record<string, string>, ...argv: string[]): Promise<T> {
  const result = await cli(env, ...argv, "--json");
  if (result.code !== 0) throw new Error(`certauth ${argv.join(" ")} exited ${result.code}: ${result.err}`);
  return JSON.parse(result.out) as T;
}
