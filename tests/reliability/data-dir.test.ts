/**
 * DATA_DIR as operators prepare it: created beforehand with mode 0755 (a systemd StateDirectory, a Docker
 * volume, `mkdir /var/lib/certauth`) and holding files an older version left world-writable. Started on each
 * runtime, the service leaves it 0700 with nothing in it open to group or others; a DATA_DIR another user owns
 * is refused. And a first start on an empty DATA_DIR fits a 512 MiB container.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { commandFor, peakRssMiB, RUNTIMES, startServiceProcess, stopAllProcesses } from "../helpers/processes.ts";
import { ADMIN_TOKEN } from "../helpers/service.ts";

const ROOT = resolve(import.meta.dir, "../..");
const NOBODY = 65534;
const made: string[] = [];
afterAll(async () => {
  await stopAllProcesses();
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "certauth-datadir-"));
  made.push(dir);
  return dir;
}

/** Every path under `dir` (itself included) that group or others may read, write or enter, with its mode. */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  const visit = (path: string) => {
    const stat = lstatSync(path);
    if (!stat.isSymbolicLink() && stat.mode & 0o077) found.push(`${relative(dir, path) || "."} ${(stat.mode & 0o777).toString(8)}`);
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
  return found;
}

describe("DATA_DIR is owner-only", () => {
  for (const runtime of RUNTIMES) {
    it(`${runtime}: a DATA_DIR made 0755 beforehand, with 0666 and 0777 leftovers, ends up 0700 with nothing open to group or others`, async () => {
      const dir = scratch();
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, "left-by-an-older-version"), "x");
      chmodSync(join(dir, "left-by-an-older-version"), 0o666);
      mkdirSync(join(dir, "old"));
      chmodSync(join(dir, "old"), 0o777);
      writeFileSync(join(dir, "old", "notes"), "y", { mode: 0o644 });

      const svc = await startServiceProcess(runtime, { DATA_DIR: dir, DATABASE_URL: "" });
      try {
        expect(existsSync(join(dir, "pgdata", "PG_VERSION"))).toBe(true);
        expect(lstatSync(dir).mode & 0o777).toBe(0o700);
        expect(openToOthers(dir)).toEqual([]);
        // Still so once requests have made postgres write.
        const org = await svc.admin("/api/v1/organizations", { body: { name: "Perm", slug: `perm-${runtime}` } });
        expect(org.status).toBe(200);
      } finally {
        expect(await svc.stop()).toBe(0);
      }
      expect(openToOthers(dir)).toEqual([]);
    }, 180_000);
  }

  it.skipIf(process.getuid?.() !== 0)("a DATA_DIR owned by another user is refused with one line and a non-zero exit, on every runtime", () => {
    const dir = join(scratch(), "data");
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, NOBODY, NOBODY);
    for (const runtime of RUNTIMES) {
      const [file, ...args] = commandFor(runtime) as [string, ...string[]];
      const result = spawnSync(file, args, {
        cwd: ROOT,
        env: { ...process.env, DATA_DIR: dir, DATABASE_URL: "", ADMIN_TOKEN, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "warn" },
        encoding: "utf8",
        timeout: 20_000,
      });
      expect({ runtime, status: result.status === 0 || result.status === null ? "not refused" : "refused" }).toEqual({ runtime, status: "refused" });
      expect(result.stderr.trim().split("\n")).toEqual([`certauth: DATA_DIR ${dir} is owned by uid ${NOBODY}, not by the user certauth runs as (uid 0): chown it to that user, or choose another DATA_DIR`]);
      expect(readdirSync(dir)).toEqual([]);
    }
  }, 120_000);
});

describe("the first start on an empty DATA_DIR", () => {
  it("peaks under 256 MiB of RSS in `npm start`'s process (with PGlite's initdb it peaked near 950 MiB)", async () => {
    const svc = await startServiceProcess("bun", { DATA_DIR: join(scratch(), "data"), DATABASE_URL: "" });
    try {
      const peak = peakRssMiB(svc.pid);
      expect(svc.output()).toContain("generated a self-signed server certificate");
      expect(svc.output()).not.toContain("no PGlite template");
      expect(peak).toBeLessThan(256);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  }, 120_000);
});
