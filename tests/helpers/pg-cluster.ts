/**
 * A throwaway PostgreSQL cluster of the test's own (initdb + pg_ctl, own data directory and port), so a
 * test can stop and restart the database under load without touching the machine's shared server.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";

function pgBin(name: string): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  for (const version of readdirSync(root).sort().reverse()) {
    const bin = join(root, version, "bin", name);
    if (existsSync(bin)) return bin;
  }
  return null;
}

export function pgClusterAvailable(): boolean {
  return pgBin("pg_ctl") !== null && pgBin("initdb") !== null;
}


/** initdb refuses to run as root; run the cluster as the postgres user then. */
function run(args: string[]) {
  const asRoot = process.getuid?.() === 0;
  const res = asRoot ? spawnSync("runuser", ["-u", "postgres", "--", ...args], { encoding: "utf8" }) : spawnSync(args[0]!, args.slice(1), { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`${args.join(" ")} failed: ${res.stderr || res.stdout}`);
  return res.stdout;
}

export interface PgCluster {
  url: string;
  port: number;
  start(): void;
  stop(mode?: "fast" | "immediate"): void;
  destroy(): void;
}

export async function createPgCluster(): Promise<PgCluster> {
  const dir = mkdtempSync(join(tmpdir(), "certauth-pg-"));
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  const port = await freePort();
  run([pgBin("initdb")!, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const ctl = pgBin("pg_ctl")!;
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const cluster: PgCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start: () => void run([ctl, "-D", data, "-o", opts, "-l", join(dir, "log"), "-w", "-t", "30", "start"]),
    stop: (mode = "fast") => void run([ctl, "-D", data, "-m", mode, "-w", "-t", "30", "stop"]),
    destroy() {
      try {
        cluster.stop("immediate");
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  cluster.start();
  return cluster;
}
