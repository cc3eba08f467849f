#!/usr/bin/env node
// `certauth` from npm: runs the TypeScript CLI on Bun (the `bun` devDependency's binary, or Bun itself).
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("./main.ts", import.meta.url));
if (process.versions.bun) {
  await import(main);
} else {
  let bun = "bun";
  try {
    bun = createRequire(import.meta.url).resolve("bun/bin/bun.exe");
  } catch {}
  // A forwarded certificate chain may need up to 64 KiB of headers; Bun.serve's default is 16 KiB.
  const child = spawn(bun, ["--max-http-header-size=81920", main, ...process.argv.slice(2)], { stdio: "inherit" });
  // The CLI shuts down gracefully on SIGINT and SIGTERM (certauth agent reloads on SIGHUP); pass them on and wait for its exit code.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("error", (err) => {
    console.error(`certauth: cannot start Bun (${err.message}); run npm install`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
