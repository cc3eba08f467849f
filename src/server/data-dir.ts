import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../config.ts";

const GROUP_OTHER = 0o077;

/** Every file and folder the process creates is owner-only, whatever umask it was started with (process.umask works on Bun, Deno and Node). */
export function ownerOnlyUmask(): void {
  process.umask(GROUP_OTHER);
}

/**
 * DATA_DIR holds the admin token, the key-encryption key and the database: it is created or brought to 0700 on
 * every start, refused if another user owns it (they could swap its contents), and nothing inside it stays
 * readable or writable by group or others, files left by older versions included.
 */
export function ownDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = statSync(dir);
  if (!stat.isDirectory()) throw new ConfigError(`DATA_DIR ${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new ConfigError(`DATA_DIR ${dir} is owned by uid ${stat.uid}, not by the user certauth runs as (uid ${uid}): chown it to that user, or choose another DATA_DIR`);
  }
  ownerOnlyTree(dir);
}

/**
 * Clears the group and other bits under `dir`. PGlite's file system chmods each file it creates to the mode
 * postgres asked for (0666 for some), past the umask, so this also runs after the database opens and closes.
 * Symbolic links are not followed: what they point to is not DATA_DIR's.
 */
export function ownerOnlyTree(dir: string): void {
  const mode = lstatSync(dir).mode;
  if (mode & GROUP_OTHER) chmodSync(dir, mode & 0o700);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) ownerOnlyTree(path);
    else if (!entry.isSymbolicLink()) {
      const fileMode = lstatSync(path).mode;
      if (fileMode & GROUP_OTHER) chmodSync(path, fileMode & 0o700);
    }
  }
}
