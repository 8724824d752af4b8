/** Raw terminal input → key names. One read can hold several keys (a paste, a fast typist). */
export type Key =
  | "up"
  | "down"
  | "left"
  | "right"
  | "pageup"
  | "pagedown"
  | "home"
  | "end"
  | "enter"
  | "escape"
  | "backspace"
  | "tab"
  | "ctrl-c"
  | "ctrl-d"
  | "ctrl-l"
  | { char: string };

const sequences: Array<[string, Key]> = [
  ["\x1b[A", "up"],
  ["\x1b[B", "down"],
  ["\x1b[C", "right"],
  ["\x1b[D", "left"],
  ["\x1bOA", "up"],
  ["\x1bOB", "down"],
  ["\x1bOC", "right"],
  ["\x1bOD", "left"],
  ["\x1b[5~", "pageup"],
  ["\x1b[6~", "pagedown"],
  ["\x1b[H", "home"],
  ["\x1b[F", "end"],
  ["\x1b[1~", "home"],
  ["\x1b[4~", "end"],
  ["\x1bOH", "home"],
  ["\x1bOF", "end"],
];

export function parseKeys(input: string): Key[] {
  const keys: Key[] = [];
  let i = 0;
  outer: while (i < input.length) {
    for (const [seq, key] of sequences) {
      if (input.startsWith(seq, i)) {
        keys.push(key);
        i += seq.length;
        continue outer;
      }
    }
    const ch = input[i] as string;
    if (ch === "\x1b") {
      // An unknown escape sequence: skip it whole rather than read it as letters.
      // eslint-disable-next-line no-control-regex -- matching escape sequences is the point
      const m = /^\x1b\[[0-9;?]*[ -/]*[@-~]/.exec(input.slice(i));
      if (m) {
        i += m[0].length;
        continue;
      }
      keys.push("escape");
    } else if (ch === "\r" || ch === "\n") keys.push("enter");
    else if (ch === "\x7f" || ch === "\b") keys.push("backspace");
    else if (ch === "\t") keys.push("tab");
    else if (ch === "\x03") keys.push("ctrl-c");
    else if (ch === "\x04") keys.push("ctrl-d");
    else if (ch === "\x0c") keys.push("ctrl-l");
    else if (ch >= " ") keys.push({ char: ch });
    i++;
  }
  return keys;
}

export function keyName(key: Key): string {
  return typeof key === "string" ? key : key.char;
}
