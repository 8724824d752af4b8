/**
 * The interactive player in a real terminal: tmux (its own socket per test)
 * runs a shell, the shell runs `chorus player`; keys go in with send-keys and
 * the screen comes back with capture-pane.
 */
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { redrawMs } from "../cli/screen/app.js";
import { chorusBin, type TestSystem } from "../harness/system.js";
import { Tmux } from "../harness/tmux.js";
import { waitFor } from "../harness/wait.js";
import { formats, startSystem, writeSong } from "../harness/fixtures/player.js";

/** The elapsed time shown as "m:ss / m:ss", in seconds. */
function elapsed(screen: string): number {
  const m = /(\d+):(\d\d) \/ \d+:\d\d/.exec(screen);
  if (!m) throw new Error(`no elapsed time on screen:\n${screen}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

describe("chorus player in a terminal (tmux)", function () {
  this.timeout(90_000);
  let sys: TestSystem;
  let client: ChorusConfig;
  let dir: string;
  let tmux: Tmux;

  before(async () => {
    ({ sys, client } = await startSystem((music) => [
      writeSong(music, "Alpha.wav", 40, formats.mono8k, 21),
      writeSong(music, "Beta.wav", 30, formats.mono22, 22),
    ]));
  });
  after(async () => sys?.cleanup());
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "chorus-tty-"));
    tmux = new Tmux();
    tmux.start(sys.env(client) as Record<string, string>);
  });
  afterEach(() => {
    tmux.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  const command = (extra = "", out = `--out ${path.join(dir, "out.wav")}`): string =>
    `node ${chorusBin} player ${out} ${extra}; echo "EXIT=$?"; stty -a | grep -o -- ' -\\?echo ' | head -1`;

  async function login(): Promise<void> {
    tmux.type(command());
    tmux.keys("Enter");
    await tmux.see("User:", "the user prompt");
    tmux.type("Someone");
    tmux.keys("Enter");
    await tmux.see("Password for Someone:", "the password prompt");
    tmux.type("password123");
    tmux.keys("Enter");
    await tmux.see(/Songs \(2\)/, "the song list");
  }

  it("logs in without echoing the password, plays, pauses, resumes, seeks and quits cleanly", async () => {
    await login();
    let screen = tmux.screen();
    expect(screen).not.to.include("password123");
    expect(screen).to.match(/Alpha +0:40/);
    expect(screen).to.match(/Beta +0:30/);
    expect(screen).to.match(/auth node auth-\S+/);
    for (const key of [
      "Enter play",
      "Space pause/resume",
      "seek -/+10s",
      "s stop",
      "n/p next/previous",
      "j join P2P host",
      "q quit",
    ]) {
      expect(screen).to.include(key);
    }
    expect(screen).to.include("output     WAV file");

    tmux.keys("Enter"); // Alpha is selected first
    await tmux.see("▶ playing", "playing");
    screen = await tmux.see(/0:0[2-9] \/ 0:40/, "progress to advance");
    expect(screen).to.match(/file node +file-\S+/);
    expect(screen).to.match(/\[=+>?-*\]/);

    tmux.keys("Space");
    screen = await tmux.see("‖ paused", "paused");
    const pausedAt = elapsed(screen);
    // An observation window: the clock shows whole seconds, so watch it for one, and the
    // redraws that would show the next, reading the screen at each redraw meanwhile.
    const watchUntil = Date.now() + 1000 + 2 * redrawMs;
    while (Date.now() < watchUntil) {
      expect(elapsed(tmux.screen()), "the clock while paused").to.equal(pausedAt);
      await new Promise((r) => setTimeout(r, redrawMs));
    }

    tmux.keys("Space");
    await tmux.see("▶ playing", "playing again");
    await tmux.see(
      `${Math.floor((pausedAt + 1) / 60)}:${String((pausedAt + 1) % 60).padStart(2, "0")} / 0:40`,
      "progress after resume",
    );

    tmux.keys("Right");
    await tmux.see(/0:1[1-9] \/ 0:40/, "the seek forward");
    tmux.keys("Left");
    await tmux.see(/0:0\d \/ 0:40/, "the seek back");

    tmux.keys("q");
    screen = await tmux.see(/EXIT=\d+/, "the player to exit");
    expect(screen).to.include("EXIT=0");
    expect(screen).to.match(/ echo /); // the terminal echoes again (not "-echo")
    expect(screen).not.to.include("Songs (2)"); // the alternate screen is gone
    // Quitting logged out: no session left at any auth node.
    const nc = await sys.connect();
    await waitFor(
      async () => (await sys.nodes(nc)).filter((n) => n.kind === "auth").every((n) => n.load === 0),
      "no session left",
    );
  });

  it("next/previous/stop/join keys; a small terminal gets a message, then redraws; Ctrl-C restores the terminal", async () => {
    await login();
    tmux.keys("Down", "Enter");
    await tmux.see(/♪ Beta[\s\S]*▶ playing/, "Beta playing");
    tmux.keys("p");
    await tmux.see(/♪ Alpha[\s\S]*▶ playing/, "previous: Alpha playing");
    tmux.keys("n");
    await tmux.see(/♪ Beta[\s\S]*▶ playing/, "next: Beta playing");
    tmux.keys("s");
    await tmux.see("■ stopped", "stopped");
    tmux.keys("j");
    await tmux.see("join host:", "the join prompt");
    tmux.type("somehost");
    tmux.keys("Enter");
    await tmux.see('no host "somehost" is playing now', "the join answer");
    tmux.keys("Space");
    await tmux.see(/♪ Beta[\s\S]*▶ playing/, "Space plays the stopped song again");
    tmux.resize(50, 10);
    await tmux.see("terminal too small: 50x10", "the too-small message");
    tmux.resize(100, 30);
    await tmux.see(/Songs \(2\)[\s\S]*▶ playing/, "the full screen again");
    tmux.keys("C-c");
    const screen = await tmux.see(/EXIT=\d+/, "the player to exit");
    expect(screen).to.include("EXIT=130");
    expect(screen).to.match(/ echo /);
  });

  it("a broker restart mid-song: the screen says so and carries on from the same place", async () => {
    await login();
    tmux.keys("Enter");
    const before = elapsed(await tmux.see(/0:0[3-9] \/ 0:40/, "a few seconds played"));
    const port = sys.broker!.port;
    await sys.stopBroker();
    await tmux.see("lost the broker", "the lost-broker message");
    await sys.startBroker(port);
    const screen = await tmux.see(/carrying on from \d+:\d\d/, "the carry-on message", 20_000);
    const resumedAt = /carrying on from (\d+):(\d\d)/.exec(screen)!;
    const from = Number(resumedAt[1]) * 60 + Number(resumedAt[2]);
    expect(from).to.be.within(before, before + 8);
    await tmux.see(/▶ playing/, "playing again");
    // It plays on from there: the next second shows.
    await tmux.see(
      new RegExp(`0:${String(from + 1).padStart(2, "0")} / 0:40`),
      "progress after the restart",
    );
    tmux.keys("q");
    expect(await tmux.see(/EXIT=\d+/, "exit")).to.include("EXIT=0");
  });

  it("asks again after a wrong password; with no sound card says where the audio goes", async () => {
    tmux.type(command("--user Someone", ""));
    tmux.keys("Enter");
    await tmux.see("Password for Someone:", "the password prompt");
    tmux.type("wrong-one");
    tmux.keys("Enter");
    await tmux.see("wrong user name or password; try again", "the retry message");
    tmux.type("password123");
    tmux.keys("Enter");
    await tmux.see(/Songs \(2\)/, "the song list");
    // No /proc/asound here: the default output is a WAV file in the data folder, and why.
    const screen = tmux.screen();
    expect(screen).to.include(`output     WAV file ${path.join(client.data, "player.wav")}`);
    expect(screen, screen).to.include("(no sound device)");
    tmux.keys("q");
    expect(await tmux.see(/EXIT=\d+/, "exit")).to.include("EXIT=0");
  });

  it("Ctrl-C at the password prompt and SIGTERM while playing both give the terminal back", async () => {
    tmux.type(command("--user Someone"));
    tmux.keys("Enter");
    await tmux.see("Password for Someone:", "the password prompt");
    tmux.type("pass");
    tmux.keys("C-c");
    let screen = await tmux.see(/EXIT=\d+/, "the player to exit");
    expect(screen).to.include("EXIT=130");
    expect(screen).to.match(/ echo /);
    tmux.keys("clear", "Enter");
    await login();
    tmux.keys("Enter");
    await tmux.see("▶ playing", "playing");
    const shell = tmux.panePid();
    const player = execFileSync("ps", ["-o", "pid=", "--ppid", String(shell)], { encoding: "utf8" })
      .trim()
      .split(/\s+/)
      .map(Number)[0] as number;
    process.kill(player, "SIGTERM");
    screen = await tmux.see(/EXIT=\d+/, "the player to exit");
    expect(screen).to.include("EXIT=143");
    expect(screen).to.match(/ echo /);
  });
});
