import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";

/**
 * Replaces the sink's content with `token` atomically: a temporary file in the same folder, created 0600 (so no
 * moment exists at which group or others may read it), synced, then renamed over the sink. A reader sees the old
 * token or the new one, never a part of one.
 */
export function writeSink(path: string, token: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(temp, "wx", 0o600);
  try {
    try {
      // The umask can only take bits away; this makes it exactly owner read and write.
      fchmodSync(fd, 0o600);
      writeSync(fd, token);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}
