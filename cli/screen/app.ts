/**
 * The interactive player: keys in, calls on the player library, the screen
 * redrawn from the library's status. A slow or failing call never blocks the
 * keys: each runs on its own and reports its error on the message line.
 */
import type { PlayerStatus } from "../../client/player/types.js";
import { clock } from "../../client/song-time.js";
import type { Key } from "./keys.js";
import { render, type SongRow, type ViewState } from "./view.js";
import { Terminal } from "./terminal.js";

/** What the screen needs from the player library (client/player.ts). */
export interface PlayerApi {
  readonly user: string;
  readonly output: string;
  info(): { authNode?: string; fileNode?: string };
  songs(): Promise<SongRow[]>;
  play(songId: string, fromSeconds?: number): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  seek(seconds: number): Promise<void>;
  stop(): Promise<void>;
  /** Follow a P2P host (issue 6); undefined until the library can. */
  join?(host: string): Promise<void>;
  status(): PlayerStatus;
  /** Called on every change worth a redraw; returns an unsubscribe. */
  onChange(
    listener: (event: { kind: string; message?: string; error?: boolean }) => void,
  ): () => void;
}

export const seekStep = 10;
/** How often the screen is redrawn when nothing else happens (progress moves). */
export const redrawMs = 250;

export class PlayerApp {
  private state: ViewState;
  private redrawTimer?: NodeJS.Timeout;
  private done?: () => void;
  private unsubscribe?: () => void;
  /** Left with Ctrl-C (the command exits 130, as after SIGINT). */
  interrupted = false;

  constructor(
    private readonly player: PlayerApi,
    private readonly terminal: Terminal = new Terminal(),
  ) {
    this.state = {
      user: player.user,
      songs: [],
      selected: 0,
      output: player.output,
      bufferMs: 0,
      underruns: 0,
    };
  }

  /** Runs until the user quits. The terminal is restored before this resolves. */
  async run(): Promise<void> {
    const finished = new Promise<void>((resolve) => (this.done = resolve));
    this.terminal.enter(
      (key) => this.onKey(key),
      () => this.redraw(),
    );
    this.unsubscribe = this.player.onChange((event) => {
      if (event.kind === "played") return; // every few ms: the timer redraws progress
      if (event.message) this.say(event.message, event.error ?? false);
      else this.redraw();
    });
    // Progress moves even when nothing else happens.
    this.redrawTimer = setInterval(() => this.redraw(), redrawMs);
    this.say(this.player.output, false);
    this.run1(async () => {
      await this.refresh();
    });
    this.redraw();
    await finished;
  }

  /** Leave the screen (quit, Ctrl-C, a signal). */
  quit(): void {
    clearInterval(this.redrawTimer);
    this.unsubscribe?.();
    this.terminal.leave();
    this.done?.();
  }

  private async refresh(): Promise<void> {
    const songs = await this.player.songs();
    const current = this.state.songs[this.state.selected]?.id;
    this.state.songs = songs;
    const again = songs.findIndex((s) => s.id === current);
    this.state.selected = again >= 0 ? again : Math.min(this.state.selected, songs.length - 1);
    if (this.state.selected < 0) this.state.selected = 0;
    this.say(`${songs.length} songs`, false);
  }

  private say(text: string, error: boolean): void {
    this.state.message = { text, error };
    this.redraw();
  }

  /** Run a player call without blocking the keys; its error goes to the message line. */
  private run1(action: () => Promise<void>, done?: () => string): void {
    action().then(
      () => (done ? this.say(done(), false) : this.redraw()),
      (err: unknown) => this.say(err instanceof Error ? err.message : String(err), true),
    );
  }

  private redraw(): void {
    const status = this.player.status();
    const info = this.player.info();
    this.state.now = status.now;
    this.state.playingId = status.songId;
    this.state.bufferMs = status.bufferMs;
    this.state.underruns = status.underruns;
    this.state.authNode = info.authNode;
    this.state.fileNode = info.fileNode;
    this.terminal.draw(render(this.state, this.terminal.cols, this.terminal.rows));
  }

  private onKey(key: Key): void {
    if (this.state.input) {
      this.onInputKey(key);
      return;
    }
    const name = typeof key === "string" ? key : key.char;
    const songs = this.state.songs;
    const now = this.player.status().now;
    switch (name) {
      case "ctrl-c":
        this.interrupted = true;
        this.quit();
        return;
      case "q":
      case "Q":
      case "ctrl-d":
        this.quit();
        return;
      case "up":
        this.select(this.state.selected - 1);
        return;
      case "down":
        this.select(this.state.selected + 1);
        return;
      case "pageup":
        this.select(this.state.selected - 10);
        return;
      case "pagedown":
        this.select(this.state.selected + 10);
        return;
      case "home":
        this.select(0);
        return;
      case "end":
        this.select(songs.length - 1);
        return;
      case "enter": {
        const song = songs[this.state.selected];
        if (!song) return;
        this.say(`playing ${song.title}`, false);
        this.run1(() => this.player.play(song.id));
        return;
      }
      case " ":
      case "P":
        if (!now) return;
        if (now.state === "paused")
          this.run1(
            () => this.player.resume(),
            () => "resumed",
          );
        else if (now.state === "stopped" || now.state === "ended") {
          const id = this.player.status().songId;
          if (id) this.run1(() => this.player.play(id));
        } else
          this.run1(
            () => this.player.pause(),
            () => "paused",
          );
        return;
      case "left":
      case "right":
      case ",":
      case ".":
        if (!now) return;
        this.run1(
          () =>
            this.player.seek(
              now.position + (name === "left" || name === "," ? -seekStep : seekStep),
            ),
          () => `at ${clock(this.player.status().now?.position ?? 0)}`,
        );
        return;
      case "s":
        this.run1(
          () => this.player.stop(),
          () => "stopped",
        );
        return;
      case "n":
      case "p":
        this.step(name === "n" ? 1 : -1);
        return;
      case "j":
        this.state.input = { label: "join host: ", value: "" };
        this.redraw();
        return;
      case "r":
      case "ctrl-l":
        this.terminal.invalidate();
        this.run1(() => this.refresh());
        return;
      default:
        return;
    }
  }

  private onInputKey(key: Key): void {
    const input = this.state.input;
    if (!input) return;
    if (key === "escape" || key === "ctrl-c") {
      this.state.input = undefined;
      this.say("", false);
    } else if (key === "enter") {
      const host = input.value.trim();
      this.state.input = undefined;
      const join = this.player.join?.bind(this.player);
      if (!host) this.say("", false);
      else if (!join) this.say("joining a P2P host is not available in this version", true);
      else {
        this.say(`joining ${host}…`, false);
        this.run1(() => join(host));
      }
    } else if (key === "backspace") {
      input.value = [...input.value].slice(0, -1).join("");
    } else if (typeof key !== "string" && input.value.length < 64) {
      input.value += key.char;
    }
    this.redraw();
  }

  private select(index: number): void {
    const count = this.state.songs.length;
    if (count === 0) return;
    this.state.selected = Math.max(0, Math.min(count - 1, index));
    this.redraw();
  }

  /** Next / previous song after the one playing (or the selected one). */
  private step(delta: number): void {
    const songs = this.state.songs;
    if (songs.length === 0) return;
    const playing = songs.findIndex((s) => s.id === this.player.status().songId);
    const from = playing >= 0 ? playing : this.state.selected;
    const index = (from + delta + songs.length) % songs.length;
    const song = songs[index] as SongRow;
    this.state.selected = index;
    this.say(`playing ${song.title}`, false);
    this.run1(() => this.player.play(song.id));
  }
}
