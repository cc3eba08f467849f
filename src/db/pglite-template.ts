/**
 * A freshly initialised PGlite data directory that an empty DATA_DIR starts from. PGlite's own initdb runs a
 * second postgres beside the first; copying this template keeps a first start's memory where a restart's is
 * (README, "Memory on PGlite"). `npm install` makes it for the installed PGlite (postinstall runs this file);
 * `npm run build:binary` packs it into the binary (`bun src/db/pglite-template.ts --archive <file>`).
 */
import { PGlite } from "@electric-sql/pglite";
import { closeSync, cpSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Keyed by PGlite's version: a data directory made by another version may carry a catalog its postgres refuses. */
export function templateDir(): string {
  const { version } = JSON.parse(readFileSync(join(ROOT, "node_modules/@electric-sql/pglite/package.json"), "utf8")) as { version: string };
  return join(ROOT, "node_modules/.cache/certauth", `pgdata-${version}`);
}

/** Runs PGlite's initdb into `dir` unless it holds a database already; built beside it and renamed, so never half made. */
export async function makeTemplate(dir = templateDir()): Promise<string> {
  if (existsSync(join(dir, "PG_VERSION"))) return dir;
  const staging = `${dir}.${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  // Closed cleanly (a shutdown checkpoint): a copy starts without crash recovery.
  await (await PGlite.create(staging)).close();
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return dir;
}

/** Writes a new data directory's files into `target`; false when there is no template to write. */
export type TemplateSource = (target: string) => Promise<boolean>;

let templateSource: TemplateSource = async (target) => {
  const dir = templateDir();
  if (!existsSync(join(dir, "PG_VERSION"))) return false;
  cpSync(dir, target, { recursive: true });
  return true;
};

/** The template folder by default; the single binary extracts its embedded archive instead. */
export function setTemplateSource(source: TemplateSource): void {
  templateSource = source;
}

/**
 * Fills `pgdata`, which does not exist yet, from the template: written beside it, flushed to disk, then renamed
 * into place, so a crash leaves no database (the next start writes it again) or a whole one. False when there is
 * no template.
 */
export async function restoreTemplate(pgdata: string): Promise<boolean> {
  const staging = `${pgdata}.new`;
  rmSync(staging, { recursive: true, force: true });
  if (!(await templateSource(staging))) return false;
  fsyncTree(staging);
  renameSync(staging, pgdata);
  fsyncPath(dirname(pgdata));
  return true;
}

function fsyncTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) fsyncTree(path);
    else fsyncPath(path);
  }
  fsyncPath(dir);
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The template as one gzipped tar, folders included (postgres needs its empty ones), for the binary to embed. */
async function archiveOf(dir: string): Promise<Blob> {
  const entries: Record<string, string | Uint8Array> = {};
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) {
        entries[`${relative(dir, full)}/`] = "";
        walk(full);
      } else entries[relative(dir, full)] = readFileSync(full);
    }
  };
  walk(dir);
  return new Bun.Archive(entries, { compress: "gzip" }).blob();
}

if (import.meta.main) {
  const dir = await makeTemplate();
  const at = process.argv.indexOf("--archive");
  if (at > 0) {
    const out = process.argv[at + 1];
    if (!out) throw new Error("--archive needs a file name");
    mkdirSync(dirname(out), { recursive: true });
    await Bun.write(out, await archiveOf(dir));
  }
}
