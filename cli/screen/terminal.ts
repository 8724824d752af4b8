/**
 * The terminal for a full-screen program: raw keys, the alternate screen,
 * a hidden cursor — and getting all of it back on every way out (quit,
 * Ctrl-C, SIGTERM/SIGHUP, an uncaught error, process.exit). Drawing writes
 * only the lines that changed since the last frame.
 */
import { parseKeys, type Key } from "./keys.js";

const csi = "\x1b[";
export const ansi = {
  altScreenOn: `${csi}?1049h`,
  altScreenOff: `${csi}?1049l`,
  hideCursor: `${csi}?25l`,
  showCursor: `${csi}?25h`,
  clear: `${csi}2J`,
  home: `${csi}H`,
  clearLine: `${csi}2K`,
  reset: `${csi}0m`,
  bold: `${csi}1m`,
  dim: `${csi}2m`,
  inverse: `${csi}7m`,
  red: `${csi}31m`,
  green: `${csi}32m`,
  yellow: `${csi}33m`,
  cyan: `${csi}36m`,
  moveTo: (row: number, col = 1): string => `${csi}${row};${col}H`,
};

export interface TerminalIo {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
}

export class Terminal {
  private active = false;
  private last: string[] = [];
  private readonly cleanups: Array<() => void> = [];
  private keyHandler?: (key: Key) => void;

  constructor(private readonly io: TerminalIo = { input: process.stdin, output: process.stdout }) {}

  get cols(): number {
    return this.io.output.columns || 80;
  }
  get rows(): number {
    return this.io.output.rows || 24;
  }

  /** Take the screen. `onKey` receives every key; `onResize` runs after a resize. */
  enter(onKey: (key: Key) => void, onResize: () => void): void {
    if (this.active) return;
    this.active = true;
    this.keyHandler = onKey;
    const { input, output } = this.io;
    if (input.isTTY) input.setRawMode(true);
    input.setEncoding("utf8");
    const onData = (data: string): void => {
      for (const key of parseKeys(data)) {
        try {
          this.keyHandler?.(key);
        } catch {
          // A key handler's failure must not kill the input loop.
        }
      }
    };
    input.on("data", onData);
    input.resume();
    const resized = (): void => {
      this.invalidate();
      onResize();
    };
    output.on("resize", resized);
    this.cleanups.push(() => {
      input.off("data", onData);
      output.off("resize", resized);
    });
    // Every way out of the process gives the terminal back.
    const restoreOnExit = (): void => this.leave();
    process.on("exit", restoreOnExit);
    this.cleanups.push(() => process.off("exit", restoreOnExit));
    output.write(ansi.altScreenOn + ansi.hideCursor + ansi.clear);
  }

  /** Give the terminal back as it was. Safe to call more than once, and from an exit handler. */
  leave(): void {
    if (!this.active) return;
    this.active = false;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    const { input, output } = this.io;
    try {
      output.write(ansi.reset + ansi.showCursor + ansi.altScreenOff);
      if (input.isTTY) input.setRawMode(false);
      input.pause();
    } catch {
      // The terminal may already be gone (SIGHUP).
    }
    this.last = [];
  }

  /** Forget the last frame: the next draw repaints everything. */
  invalidate(): void {
    this.last = [];
    if (this.active) this.io.output.write(ansi.clear);
  }

  /** Draw a full frame (one string per row, already fitted to the width). */
  draw(lines: string[]): void {
    if (!this.active) return;
    let out = "";
    for (let row = 0; row < this.rows; row++) {
      const line = lines[row] ?? "";
      if (this.last[row] === line) continue;
      out += ansi.moveTo(row + 1) + ansi.clearLine + line + ansi.reset;
    }
    this.last = lines.slice(0, this.rows);
    if (out) this.io.output.write(out);
  }
}
