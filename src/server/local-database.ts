import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../config.ts";
import { openDatabase, type Database } from "../db/client.ts";
import { ownDataDir, ownerOnlyTree } from "./data-dir.ts";

/**
 * Opens the database the configuration names. Two PGlite processes on one data directory corrupt it, so DATA_DIR
 * is locked with a pid file while it is open (a dead holder's lock is taken over), and the files postgres made
 * wider than owner-only are narrowed after it starts and after it stops.
 */
export async function openConfiguredDatabase(config: Config): Promise<Database> {
  if (config.DATABASE_URL) return openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
  ownDataDir(config.DATA_DIR);
  const release = lockDataDir(config.DATA_DIR);
  try {
    const database = await openDatabase({ url: undefined, dataDir: config.DATA_DIR });
    ownerOnlyTree(config.DATA_DIR);
    return {
      ...database,
      close: async () => {
        try {
          await database.close();
          ownerOnlyTree(config.DATA_DIR);
        } finally {
          release();
        }
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

export class DataDirInUseError extends Error {}

function lockDataDir(dataDir: string): () => void {
  const file = join(resolve(dataDir), "certauth.pid");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as { code?: string }).code !== "EEXIST") throw err;
    }
    const holder = Number.parseInt(readFileSync(file, "utf8"), 10);
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new DataDirInUseError(
        `DATA_DIR ${dataDir} is in use by another certauth process (pid ${holder}); the embedded database takes one process at a time: stop it, or use DATABASE_URL`,
      );
    }
    rmSync(file, { force: true });
  }
  throw new DataDirInUseError(`DATA_DIR ${dataDir} could not be locked`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}
