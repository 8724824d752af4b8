/* eslint-disable no-control-regex -- matching control characters is what this file tests */
/**
 * Terminal escapes (issue 13): a song title or a host's name is someone
 * else's text. What reaches a terminal never carries its control characters.
 */
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { json, table } from "../cli/output.js";
import { escapeForTerminal, printable, replacement } from "../cli/printable.js";
import { render, type ViewState } from "../cli/screen/view.js";
import { toneWav } from "../harness/fixtures/file.js";
import { demoUser, formats, startSystem, writeSong } from "../harness/fixtures/player.js";
import type { TestSystem } from "../harness/system.js";

/** Clears the screen, retitles the window, rings the bell, then an 8-bit CSI and a bidi override. */
const evil = "Nice\u001b[2J\u001b]0;pwned\u0007 Song\u009b31m\u202eevil";
const controls = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe("sanitised output: others' text never drives the terminal", function () {
  it("replaces C0, DEL, C1 and bidi controls, and keeps every other character", () => {
    expect(printable(evil)).to.not.match(controls);
    expect(printable(evil)).to.equal(
      `Nice${replacement}[2J${replacement}]0;pwned${replacement} Song${replacement}31m${replacement}evil`,
    );
    expect(printable("Café · 日本 · 🎵 – “quoted”")).to.equal("Café · 日本 · 🎵 – “quoted”");
  });

  it("tables show a replacement; JSON keeps the exact text, escaped", () => {
    const out = table([{ title: evil, user: "x\u001b[31m" }], ["title", "user"]);
    expect(out.replace(/\n/g, " ")).to.not.match(controls);
    const written = json([{ title: evil }]);
    expect(written.replace(/\n/g, " ")).to.not.match(controls);
    expect((JSON.parse(written) as Array<{ title: string }>)[0]?.title).to.equal(evil);
    expect(escapeForTerminal('"\u009b"')).to.equal('"\\u009b"');
  });

  it("the player screen draws a crafted title and host name as plain text", () => {
    const state: ViewState = {
      user: "Someone",
      songs: [{ id: "a", title: evil, artist: evil, duration: 10 }],
      selected: 0,
      playingId: "a",
      now: {
        title: evil,
        artist: evil,
        album: evil,
        state: "playing",
        position: 1,
        duration: 10,
        source: `host ${evil} (P2P)`,
      },
      output: "null",
      bufferMs: 0,
      underruns: 0,
      message: { text: `joined ${evil}`, error: false },
    };
    const screen = render(state, 100, 30).join("\n");
    expect(screen).to.not.include("\u001b]0;");
    expect(screen).to.not.include("\u001b[2J");
    expect(screen).to.not.match(/[\u0007\u009b\u202e]/);
    expect(screen).to.include("pwned");
  });

  describe("chorus songs (real processes)", function () {
    this.timeout(60_000);
    let sys: TestSystem;
    let client: ChorusConfig;

    before(async () => {
      ({ sys, client } = await startSystem((music) => {
        const plain = writeSong(music, "plain.wav", 1, formats.mono22, 3);
        writeFileSync(path.join(music, "evil.wav"), toneWav(1, { rate: 8000, title: evil }));
        return [plain];
      }));
    });
    after(async () => sys?.cleanup());

    it("lists a title full of escape codes without one, and --json gives the title back exactly", async () => {
      const env = { CHORUS_PASSWORD: demoUser.password };
      const listed = sys.run(["songs", "--user", demoUser.user], client, env);
      expect(await listed.exited, listed.output()).to.equal(0);
      expect(listed.output()).to.include("pwned");
      // Lines end in newlines; nothing else of C0, DEL, C1 or bidi controls.
      expect(listed.output()).to.not.match(
        /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/,
      );

      const asJson = sys.run(["songs", "--json", "--user", demoUser.user], client, env);
      expect(await asJson.exited, asJson.output()).to.equal(0);
      const titles = (JSON.parse(asJson.output()) as Array<{ title: string }>).map((s) => s.title);
      expect(titles.some((t) => t.includes("pwned") && /\u001b/.test(t))).to.equal(true);
    });
  });
});
