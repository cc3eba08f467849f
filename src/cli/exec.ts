import { spawn } from "node:child_process";
import type { Logger } from "../log.ts";

/**
 * Runs `--exec` for new tokens, one run at a time. A token that comes while a run is going waits for it, and a
 * newer token takes its place: a slow command gets the newest token next, not a backlog of older ones. The token
 * goes in the environment (CERTAUTH_TOKEN), never on the command line: /proc/<pid>/environ is readable by its
 * owner only, a command line by every user of the machine.
 */
export class ExecQueue {
  private running = false;
  private waiting?: { env: Record<string, string | undefined>; settle: (ok: boolean) => void };

  constructor(
    private readonly command: string,
    private readonly env: Record<string, string | undefined>,
    private readonly log: Logger,
  ) {}

  /** Queues one run; resolves to whether it ran and exited 0 (false when a newer token took its place). */
  run(token: { accessToken: string; expiresIn: number }, sink: string | undefined): Promise<boolean> {
    const env = { ...this.env, CERTAUTH_TOKEN: token.accessToken, CERTAUTH_TOKEN_EXPIRES_IN: String(token.expiresIn), ...(sink ? { CERTAUTH_TOKEN_FILE: sink } : {}) };
    return new Promise((settle) => {
      if (this.waiting) {
        this.log.info("exec_skipped", { why: "a newer token came before the previous run finished" });
        this.waiting.settle(false);
      }
      this.waiting = { env, settle };
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    while (this.waiting) {
      const { env, settle } = this.waiting;
      this.waiting = undefined;
      settle(await this.spawn(env));
    }
    this.running = false;
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
