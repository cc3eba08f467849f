import { spawn } from "node:child_process";
import type { Logger } from "../log.ts";

/**
 * Runs `--exec` once per new token, one run at a time and in the order the tokens came. The token goes in the
 * environment (CERTAUTH_TOKEN), never on the command line: /proc/<pid>/environ is readable by its owner only,
 * a command line by every user of the machine.
 */
export class ExecQueue {
  private last: Promise<boolean> = Promise.resolve(true);

  constructor(
    private readonly command: string,
    private readonly env: Record<string, string | undefined>,
    private readonly log: Logger,
  ) {}

  /** Queues one run; resolves to whether it exited 0. */
  run(token: { accessToken: string; expiresIn: number }, sink: string | undefined): Promise<boolean> {
    const env = { ...this.env, CERTAUTH_TOKEN: token.accessToken, CERTAUTH_TOKEN_EXPIRES_IN: String(token.expiresIn), ...(sink ? { CERTAUTH_TOKEN_FILE: sink } : {}) };
    this.last = this.last.then(() => this.spawn(env));
    return this.last;
  }

  private spawn(env: Record<string, string | undefined>): Promise<boolean> {
    const started = Date.now();
    return new Promise((done) => {
      const child = spawn("/bin/sh", ["-c", this.command], { env, stdio: ["ignore", "inherit", "inherit"] });
      child.once("error", (err) => {
        this.log.error("exec_failed", { error: err.message });
        done(false);
      });
      child.once("exit", (code, signal) => {
        const fields = { exitCode: code, signal: signal ?? undefined, durationMs: Date.now() - started };
        if (code === 0) this.log.info("exec_finished", fields);
        else this.log.warn("exec_failed", fields);
        done(code === 0);
      });
    });
  }
}
