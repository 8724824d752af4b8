/**
 * A real terminal for tests: tmux (its own socket per instance) runs a
 * shell; keys go in with send-keys and the screen comes back with capture-pane.
 */
import { execFileSync } from "node:child_process";
import { waitFor } from "./wait.js";

let sockets = 0;

export class Tmux {
  readonly socket = `chorus-player-test-${process.pid}-${++sockets}`;
  private started = false;

  constructor(
    private readonly cols = 120,
    private readonly rows = 40,
  ) {}

  private tmux(args: string[]): string {
    return execFileSync("tmux", ["-u", "-L", this.socket, "-f", "/dev/null", ...args], {
      encoding: "utf8",
      env: { ...process.env, LANG: "C.UTF-8", LC_ALL: "C.UTF-8" },
    });
  }

  /** A plain shell in a fresh tmux server of our own. */
  start(env: Record<string, string>): void {
    const vars = Object.entries({ ...env, PS1: "$ ", LANG: "C.UTF-8", LC_ALL: "C.UTF-8" }).map(
      ([k, v]) => `${k}=${v}`,
    );
    this.tmux([
      "new-session",
      "-d",
      "-s",
      "t",
      "-x",
      String(this.cols),
      "-y",
      String(this.rows),
      "env",
      ...vars,
      "bash",
      "--norc",
      "--noprofile",
    ]);
    this.started = true;
  }

  type(text: string): void {
    this.tmux(["send-keys", "-t", "t", "-l", text]);
  }

  keys(...keys: string[]): void {
    this.tmux(["send-keys", "-t", "t", ...keys]);
  }

  /** The PID of the shell in the pane (the player is its child). */
  panePid(): number {
    return Number(this.tmux(["list-panes", "-t", "t", "-F", "#{pane_pid}"]).trim());
  }

  screen(): string {
    return this.tmux(["capture-pane", "-p", "-t", "t"]);
  }

  resize(cols: number, rows: number): void {
    this.tmux(["resize-window", "-t", "t", "-x", String(cols), "-y", String(rows)]);
  }

  async see(pattern: RegExp | string, what: string, timeoutMs = 15_000): Promise<string> {
    return waitFor(
      () => {
        const s = this.screen();
        return (typeof pattern === "string" ? s.includes(pattern) : pattern.test(s)) && s;
      },
      `${what} on screen`,
      timeoutMs,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n--- screen ---\n${this.screen()}`);
    });
  }

  /** Kill our own tmux server (and the shell and player in it). */
  kill(): void {
    if (!this.started) return;
    this.started = false;
    try {
      this.tmux(["kill-server"]);
    } catch {
      // already gone
    }
  }
}
