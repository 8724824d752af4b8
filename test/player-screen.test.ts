/** The player's screen layout, read as plain text, and its key parsing. */
import { expect } from "chai";
import { parseKeys } from "../cli/screen/keys.js";
import { clock } from "../client/song-time.js";
import { keyHelp, progressBar, render, stripAnsi, type ViewState } from "../cli/screen/view.js";

const plain = stripAnsi;

function state(overrides: Partial<ViewState> = {}): ViewState {
  return {
    user: "Someone",
    authNode: "auth-a1",
    fileNode: "file-f1",
    songs: Array.from({ length: 30 }, (_, i) => ({
      id: `s${i}`,
      title: `Song number ${i}`,
      duration: 60 + i,
    })),
    selected: 0,
    output: "audio output: WAV file /tmp/x.wav (no sound device)",
    bufferMs: 1500,
    underruns: 0,
    ...overrides,
  };
}

describe("player screen", () => {
  it("fills the terminal exactly: every row as wide as the terminal", () => {
    for (const [cols, rows] of [
      [120, 40],
      [80, 24],
      [60, 14],
    ] as const) {
      const lines = render(state(), cols, rows).map(plain);
      expect(lines).to.have.length(rows);
      for (const line of lines) expect([...line].length, line).to.equal(cols);
    }
  });

  it("shows songs with durations, now-playing with progress and times, nodes and every key", () => {
    const s = state({
      selected: 2,
      playingId: "s2",
      now: {
        title: "Song number 2",
        state: "paused",
        position: 31,
        duration: 62,
        format: "44.1 kHz stereo 16-bit",
        source: "file node file-f1",
      },
    });
    const text = render(s, 120, 40).map(plain).join("\n");
    expect(text).to.include("Song number 0");
    expect(text).to.include("1:00");
    expect(text).to.match(/♪ Song number 2 +1:02/);
    expect(text).to.include("‖ paused");
    expect(text).to.include("0:31 / 1:02");
    expect(text).to.include("auth node  auth-a1");
    expect(text).to.include("file node  file-f1");
    expect(text).to.include("output     WAV file /tmp/x.wav");
    expect(text).to.include("buffer     1500 ms   underruns 0");
    for (const [key, what] of keyHelp) expect(text).to.include(`${key} ${what}`);
    const bar = /\[(=*)>?(-*)\]/.exec(text);
    expect(bar?.[1]?.length).to.be.closeTo((bar?.[0].length ?? 0) / 2, 2);
  });

  it("shows the artist beside the title where it fits, and artist and album while playing", () => {
    const songs = [
      { id: "a", title: "Morning Relay", artist: "The Heartbeats", duration: 161 },
      { id: "b", title: "B".repeat(30), artist: "Nobody Sees Me", duration: 5 },
    ];
    const now = {
      title: "Morning Relay",
      artist: "The Heartbeats",
      album: "Chorus Demo Tape",
      state: "playing" as const,
      position: 10,
      duration: 161,
    };
    for (const [cols, rows] of [
      [120, 40],
      [60, 14],
    ] as const) {
      const lines = render(state({ songs, playingId: "a", now }), cols, rows).map(plain);
      for (const line of lines) expect([...line].length, line).to.equal(cols);
      const text = lines.join("\n");
      // 120 columns leave room for "Title · Artist" in the list; 60 only for the title.
      expect(text).to.match(
        cols === 120 ? /♪ Morning Relay · The Heartbeats +2:41/ : /♪ Morning Relay +2:41/,
      );
      expect(text).not.to.include("Nobody Sees Me");
      expect(text).to.include(
        cols === 120 ? "The Heartbeats — Chorus Demo Tape" : "The Heartbeats — Chorus",
      );
      expect(text).to.include("0:10 / 2:41");
    }
  });

  it("keeps the selected song in view in a long list", () => {
    const text = render(state({ selected: 29 }), 80, 20)
      .map(plain)
      .join("\n");
    expect(text).to.include("Song number 29");
    expect(text).not.to.include("Song number 0 ");
  });

  it("cuts long titles instead of breaking the layout", () => {
    const long = "A".repeat(300);
    const lines = render(
      state({ songs: [{ id: "x", title: long, duration: 5 }], now: undefined }),
      70,
      16,
    ).map(plain);
    for (const line of lines) expect([...line].length).to.equal(70);
    expect(lines.join("\n")).to.include("…");
  });

  it("says the terminal is too small instead of drawing a broken screen", () => {
    const lines = render(state(), 40, 10).map(plain);
    expect(lines).to.have.length(10);
    expect(lines.join("\n")).to.include("terminal too small: 40x10");
    expect(lines.join("\n")).to.include("need at least 60x14");
  });

  it("formats times and bars", () => {
    expect(clock(0)).to.equal("0:00");
    expect(clock(61.9)).to.equal("1:01");
    expect(clock(3725)).to.equal("1:02:05");
    expect(progressBar(0, 10, 12)).to.equal("[>---------]");
    expect(progressBar(10, 10, 12)).to.equal("[==========]");
    expect(progressBar(5, 0, 12)).to.equal("[>---------]");
  });

  it("parses keys, arrows and several keys in one read", () => {
    expect(parseKeys("\x1b[A\x1b[Bq \r")).to.deep.equal([
      "up",
      "down",
      { char: "q" },
      { char: " " },
      "enter",
    ]);
    expect(parseKeys("\x03\x7f\x1b[5~\x1b[99;5Zx")).to.deep.equal([
      "ctrl-c",
      "backspace",
      "pageup",
      { char: "x" },
    ]);
  });
});
