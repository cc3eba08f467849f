/**
 * Entry of the single binary (`npm run build:binary`): PGlite's wasm and data bundle, its data directory
 * template and the SQL migrations are embedded by `bun build --compile`; this points the database at them,
 * then runs the CLI.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Worker } from "node:worker_threads";
import pgliteWasm from "../../node_modules/@electric-sql/pglite/dist/pglite.wasm" with { type: "file" };
import initdbWasm from "../../node_modules/@electric-sql/pglite/dist/initdb.wasm" with { type: "file" };
import pgliteData from "../../node_modules/@electric-sql/pglite/dist/pglite.data" with { type: "file" };
import pgdataTemplate from "../../dist/pgdata-template.tar.gz" with { type: "file" };
import journal from "../../drizzle/meta/_journal.json" with { type: "json" };
import { setPgliteAssets } from "../db/client.ts";
import { setMigrationsFolder } from "../db/migrate.ts";
import { setTemplateSource } from "../db/pglite-template.ts";
import { ownerOnlyUmask } from "../server/data-dir.ts";
import { setWorkerStarter } from "../revocation/crl-decoding.ts";
import { run } from "./main.ts";

ownerOnlyUmask();

setPgliteAssets(async () => {
  const [pgliteWasmModule, initdbWasmModule, fsBundle] = await Promise.all([
    Bun.file(pgliteWasm).arrayBuffer().then((bytes) => WebAssembly.compile(bytes)),
    Bun.file(initdbWasm).arrayBuffer().then((bytes) => WebAssembly.compile(bytes)),
    Bun.file(pgliteData).arrayBuffer().then((bytes) => new Blob([bytes])),
  ]);
  return { pgliteWasmModule, initdbWasmModule, fsBundle };
});

// Bun.Archive reads the archive from bytes (from a Bun.file it fails with ReadError); the archive is collected
// before postgres starts, so it does not add to its peak.
setTemplateSource(async (target) => {
  await new Bun.Archive(await Bun.file(pgdataTemplate).bytes()).extract(target);
  Bun.gc(true);
  return true;
});

// A worker's entry is an extra entrypoint of the build, embedded under its source path from the project root, while
// every bundled module's import.meta.url is the binary's own.
setWorkerStarter((entry) => new Worker(new URL(`./src/revocation/${basename(entry.pathname)}`, import.meta.url)));

/** drizzle's migrator reads a folder: write the embedded SQL files (extra entrypoints of the build) and the journal to one. */
const migrations = mkdtempSync(join(tmpdir(), "certauth-migrations-"));
process.on("exit", () => rmSync(migrations, { recursive: true, force: true }));
mkdirSync(join(migrations, "meta"));
writeFileSync(join(migrations, "meta", "_journal.json"), JSON.stringify(journal));
const embedded = new Map(Bun.embeddedFiles.map((file) => [(file as Blob & { name: string }).name, file]));
for (const { tag } of journal.entries) {
  const sql = embedded.get(`${tag}.sql`);
  if (!sql) throw new Error(`migration ${tag}.sql is not embedded in this binary`);
  writeFileSync(join(migrations, `${tag}.sql`), await sql.text());
}
setMigrationsFolder(migrations);

process.exit(await run(process.argv.slice(2)));
