/**
 * Asking for a line on the terminal, echoed or not (passwords). Raw mode, so
 * nothing typed is echoed by the terminal itself; Ctrl-C cancels and the
 * terminal is restored on every path.
 */
import { ChorusError } from "../wire/errors.js";

export interface PromptIo {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
}

const defaultIo = (): PromptIo => ({ input: process.stdin, output: process.stderr });

export class PromptCancelled extends ChorusError {
  override name = "PromptCancelled";
  constructor() {
    super("BAD_REQUEST", "cancelled");
  }
}

export function prompt(
  question: string,
  hidden: boolean,
  io: PromptIo = defaultIo(),
): Promise<string> {
  const { input, output } = io;
  if (!input.isTTY) {
    return Promise.reject(
      new ChorusError(
        "BAD_REQUEST",
        hidden
          ? "no terminal to ask for a password: use --password-stdin or CHORUS_PASSWORD"
          : "no terminal to ask for a user name: use --user",
      ),
    );
  }
  // Raw mode before the question: keys typed as soon as it shows are never echoed.
  input.setRawMode(true);
  input.setEncoding("utf8");
  input.resume();
  output.write(question);
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = (): void => {
      input.off("data", onData);
      process.off("exit", restore);
      restore();
      output.write("\n");
    };
    const restore = (): void => {
      try {
        input.setRawMode(false);
        input.pause();
      } catch {
        // the terminal is gone
      }
    };
    process.on("exit", restore);
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") {
          finish();
          resolve(value);
          return;
        }
        if (ch === "\x03" || (ch === "\x04" && value === "")) {
          finish();
          reject(new PromptCancelled());
          return;
        }
        if (ch === "\x7f" || ch === "\b") {
          if (value) {
            value = [...value].slice(0, -1).join("");
            if (!hidden) output.write("\b \b");
          }
        } else if (ch === "\x15") {
          // Ctrl-U: start the line again.
          if (!hidden) output.write("\b \b".repeat([...value].length));
          value = "";
        } else if (ch >= " " && ch !== "\x1b") {
          value += ch;
          if (!hidden) output.write(ch);
        }
      }
    };
    input.on("data", onData);
  });
}
