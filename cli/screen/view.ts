/**
 * The player's screen as a pure function of its state and the terminal size:
 * a song list on the left, now-playing on the right, the keys at the bottom.
 * Returns one string per row, each exactly `cols` columns wide once escape
 * codes are removed, so tests can read the screen as text.
 */
import type { NowPlaying, NowState } from "../../client/player/types.js";
import { clock } from "../../client/song-time.js";
import { ansi } from "./terminal.js";
import { printable } from "../printable.js";

export interface SongRow {
  id: string;
  title: string;
  artist?: string;
  /** Seconds. */
  duration: number;
}

export interface ViewState {
  user: string;
  authNode?: string;
  fileNode?: string;
  songs: SongRow[];
  selected: number;
  playingId?: string;
  now?: NowPlaying;
  output: string;
  bufferMs: number;
  underruns: number;
  /** The last thing that happened, or an error, shown above the keys. */
  message?: { text: string; error: boolean };
  /** A line being typed (the join prompt). */
  input?: { label: string; value: string };
}

export const minCols = 60;
export const minRows = 14;

export const keyHelp: Array<[string, string]> = [
  ["↑/↓", "select"],
  ["Enter", "play"],
  ["Space", "pause/resume"],
  ["←/→", "seek -/+10s"],
  ["s", "stop"],
  ["n/p", "next/previous"],
  ["j", "join P2P host"],
  ["r", "refresh"],
  ["q", "quit"],
];

/** Text without its escape codes: what the user reads. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex -- removing escape codes is the point
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

/** Cut or pad plain text to exactly `width` columns (others' control characters replaced). */
export function fit(text: string, width: number): string {
  if (width <= 0) return "";
  const chars = [...printable(text)];
  if (chars.length > width) return chars.slice(0, Math.max(0, width - 1)).join("") + "…";
  return chars.join("") + " ".repeat(width - chars.length);
}

export function progressBar(position: number, duration: number, width: number): string {
  if (width < 3) return "";
  const inner = width - 2;
  const ratio = duration > 0 ? Math.min(1, Math.max(0, position / duration)) : 0;
  const done = Math.round(ratio * inner);
  return `[${"=".repeat(done)}${done < inner ? ">" : ""}${"-".repeat(Math.max(0, inner - done - 1))}]`;
}

const stateLabel: Record<NowState, string> = {
  starting: "starting…",
  buffering: "buffering…",
  playing: "▶ playing",
  paused: "‖ paused",
  stopped: "■ stopped",
  ended: "■ ended",
  reconnecting: "reconnecting…",
  failed: "✖ failed",
};

function boxTop(title: string, width: number): string {
  const label = ` ${title} `;
  return "┌─" + label + "─".repeat(Math.max(0, width - 3 - [...label].length)) + "┐";
}

function boxBottom(width: number): string {
  return "└" + "─".repeat(Math.max(0, width - 2)) + "┘";
}

/** The key help as lines no wider than `width`. */
function helpLines(width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const [key, what] of keyHelp) {
    const item = `${key} ${what}`;
    if (line && [...line].length + 3 + [...item].length > width) {
      lines.push(line);
      line = "";
    }
    line = line ? `${line}   ${item}` : item;
  }
  if (line) lines.push(line);
  return lines;
}

export function render(state: ViewState, cols: number, rows: number): string[] {
  if (cols < minCols || rows < minRows) return tooSmall(cols, rows);
  const lines: string[] = [];
  const header = ` Chorus  ·  ${state.user}  ·  auth node ${state.authNode ?? "—"}  ·  file node ${state.fileNode ?? "—"}`;
  lines.push(ansi.inverse + fit(header, cols) + ansi.reset);

  const help = helpLines(cols - 2);
  const bodyRows = rows - 1 - help.length - 1; // header, help, message
  const leftWidth = Math.max(28, Math.min(48, Math.floor(cols * 0.45)));
  const rightWidth = cols - leftWidth;
  const left = songList(state, leftWidth, bodyRows);
  const right = nowPanel(state, rightWidth, bodyRows);
  for (let i = 0; i < bodyRows; i++) lines.push((left[i] ?? "") + (right[i] ?? ""));

  const message = state.input
    ? `${state.input.label}${state.input.value}█`
    : (state.message?.text ?? "");
  const color = state.message?.error && !state.input ? ansi.red : "";
  lines.push(color + " " + fit(message, cols - 1) + ansi.reset);
  for (const h of help) lines.push(ansi.dim + " " + fit(h, cols - 1) + ansi.reset);
  return lines;
}

function songList(state: ViewState, width: number, height: number): string[] {
  const inner = width - 2;
  const lines = [boxTop(`Songs (${state.songs.length})`, width)];
  const visible = height - 2;
  const first = Math.min(
    Math.max(0, state.selected - Math.floor(visible / 2)),
    Math.max(0, state.songs.length - visible),
  );
  for (let i = 0; i < visible; i++) {
    const song = state.songs[first + i];
    if (!song) {
      lines.push("│" + " ".repeat(inner) + "│");
      continue;
    }
    const index = first + i;
    const mark = song.id === state.playingId ? "♪" : " ";
    const time = clock(song.duration);
    const room = inner - time.length - 5;
    // "Title · Artist" when both fit, else the title alone.
    const full = song.artist ? `${song.title} · ${song.artist}` : song.title;
    const text = ` ${mark} ${fit([...full].length <= room ? full : song.title, room)} ${time} `;
    const row = index === state.selected ? ansi.inverse + text + ansi.reset : text;
    lines.push("│" + row + "│");
  }
  if (state.songs.length === 0 && visible > 0) lines[1] = "│" + fit("  (no songs)", inner) + "│";
  lines.push(boxBottom(width));
  return lines;
}

function nowPanel(state: ViewState, width: number, height: number): string[] {
  const inner = width - 4;
  const body: string[] = [];
  const now = state.now;
  if (!now) {
    body.push("Nothing playing.", "", "Pick a song with ↑/↓ and press Enter.");
  } else {
    body.push(ansi.bold + fit(now.title, inner) + ansi.reset);
    // Artist and album take the spacer's row, so the panel is no taller.
    const by = [now.artist, now.album].filter(Boolean).join(" — ");
    if (by) body.push(fit(by, inner));
    // A lossy stream shows its level and bitrate where lossless shows the PCM format.
    const detail = now.quality && !now.quality.startsWith("lossless") ? now.quality : now.format;
    body.push(printable(`${stateLabel[now.state]}${detail ? `   ${detail}` : ""}`));
    if (!by) body.push("");
    body.push(progressBar(now.position, now.duration, inner));
    body.push(`${clock(now.position)} / ${clock(now.duration)}`);
    body.push("");
    if (now.source) body.push(printable(`from ${now.source}`));
  }
  body.push("");
  body.push(`auth node  ${state.authNode ?? "—"}`);
  body.push(`file node  ${state.fileNode ?? "—"}`);
  // "WAV file PATH (why)": the reason on a line of its own.
  const [, what = "", why] = /^(?:audio output: )?(.*?)(?: (\(.*\)))?$/.exec(state.output) ?? [];
  body.push(...wrap(what, inner, "output     ", 2));
  if (why) body.push(...wrap(why, inner, "           ", 2));
  body.push(`buffer     ${Math.round(state.bufferMs)} ms   underruns ${state.underruns}`);

  const lines = [boxTop("Now playing", width)];
  for (let i = 0; i < height - 2; i++) {
    const text = body[i] ?? "";
    const plainWidth = [...stripAnsi(text)].length;
    const padded = plainWidth >= inner ? text : text + " ".repeat(inner - plainWidth);
    lines.push("│ " + (plainWidth > inner ? fit(text, inner) : padded) + " │");
  }
  lines.push(boxBottom(width));
  return lines;
}

/** Words of `text` in lines of `width`, the first after `label`, the rest indented as far. */
function wrap(text: string, width: number, label: string, maxLines: number): string[] {
  const indent = " ".repeat(label.length);
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    const room = width - label.length;
    if (line && [...line].length + 1 + [...word].length > room) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  const shown = lines.slice(0, maxLines);
  if (lines.length > maxLines) shown[maxLines - 1] += " " + lines.slice(maxLines).join(" ");
  return shown.map((l, i) => fit((i === 0 ? label : indent) + l, width));
}

function tooSmall(cols: number, rows: number): string[] {
  const text = [
    `terminal too small: ${cols}x${rows}`,
    `need at least ${minCols}x${minRows}`,
    "q quits",
  ];
  const top = Math.max(0, Math.floor((rows - text.length) / 2));
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const t = text[r - top];
    if (t === undefined) lines.push("");
    else {
      const pad = Math.max(0, Math.floor((cols - t.length) / 2));
      lines.push((" ".repeat(pad) + t).slice(0, cols));
    }
  }
  return lines;
}
