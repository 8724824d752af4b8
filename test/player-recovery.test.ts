/**
 * Recovery without churn (issue 14 part 3): what a listener hears while
 * things are killed under it. Real broker, prime and the nodes it spawns;
 * the player in this process writes a WAV file, and every block it writes
 * is timed, so a stall shows as a gap between writes.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { NullOutput } from "../client/audio/null.js";
import { WavOutput } from "../client/audio/wav.js";
import { findFileSource } from "../client/file-source.js";
import { Player } from "../client/player.js";
import type { ChorusProcess, TestSystem } from "../harness/system.js";
import { count, watchOutput } from "../harness/fixtures/recovery.js";
import { waitFor } from "../harness/wait.js";
import {
  demoUser,
  formats,
  readWav,
  slice,
  startSystem,
  writeSong,
  type TestSong,
} from "../harness/fixtures/player.js";

describe("player recovery without churn (real system)", function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let songs: TestSong[];
  let client: ChorusConfig;
  let prime: ChorusProcess;
  let dir: string;
  const players: Player[] = [];

  /** A system of its own (with the given timing), songs of known bytes in its music folder. */
  async function system(overrides: Partial<ChorusConfig> = {}): Promise<void> {
    await Promise.all(players.splice(0).map((p) => p.close()));
    await sys?.cleanup();
    ({ sys, songs, client, prime } = await startSystem(
      (music) => [
        writeSong(music, "long-a.wav", 24, formats.mono8k, 41),
        writeSong(music, "short-b.wav", 3, formats.mono8k, 42),
        writeSong(music, "short-c.wav", 3, formats.mono22, 43),
      ],
      overrides,
    ));
  }

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "chorus-recovery-"));
  });
  after(async () => {
    await Promise.all(players.map((p) => p.close()));
    await sys?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const song = (file: string): TestSong => songs.find((s) => s.file === file) as TestSong;

  async function player(wav: string, credentials = demoUser): Promise<Player> {
    const p = await Player.start({
      config: client,
      credentials,
      output: wav ? new WavOutput(wav) : new NullOutput(),
      findSource: findFileSource,
    });
    players.push(p);
    return p;
  }

  /**
   * Another auth node with room, so a new login is quick (no node to spawn):
   * two more users fill the first node and make the prime spawn a second,
   * then one of them leaves the first.
   */
  async function spareAuthNode(): Promise<void> {
    const b = await player("", { user: "AnotherUser", password: "password123" });
    const c = await player("", { user: "FinalUser", password: "password123" });
    expect(c.info().authNode).not.to.equal(b.info().authNode);
    await b.close();
  }

  for (const spare of [false, true]) {
    const where = spare ? "another auth node has room" : "a new auth node is spawned";
    it(`an auth node SIGKILLed mid-song (${where}): one new login, the same stream, bit-exact, no stall`, async () => {
      await system();
      await authKilled(spare);
    });
  }

  async function authKilled(spare: boolean): Promise<void> {
    const wav = path.join(dir, "auth-killed.wav");
    const p = await player(wav);
    if (spare) await spareAuthNode();
    const out = watchOutput(p);
    const long = song("long-a.wav");
    const id = (await p.songs()).find((s) => s.file === long.file)!.id;
    await p.play(id, 0, 10);
    await waitFor(() => p.position > 2, "playback to start");
    const nc = await sys.connect();
    const authNode = p.info().authNode!;
    const fileNode = p.info().fileNode!;
    const auth = (await sys.nodes(nc)).find((n) => n.id === authNode)!;
    const mark = prime.output().length;
    out.reset();
    process.kill(auth.pid, "SIGKILL");
    await waitFor(() => p.info().authNode !== authNode, "the player to log in again", 20_000);
    expect(await p.waitForEnd()).to.equal("ended");
    const after = prime.output().slice(mark);
    expect(count(prime, /logged in user=/, mark), `new logins:\n${after}`).to.equal(1);
    expect(count(prime, /stream started stream=/, mark), `streams started:\n${after}`).to.equal(0);
    expect(after, "the stream was taken over by the new session").to.match(
      /stream rebound stream=/,
    );
    expect(p.status().now?.source).to.equal(`file node ${fileNode}`);
    expect(
      out.messages.filter((m) => /carrying on from/.test(m)),
      "restarts",
    ).to.deep.equal([]);
    expect(out.longestGapMs(), "longest silence in the output (ms)").to.be.below(1000);
    expect(p.status().underruns).to.equal(0);
    await p.close();
    const back = readWav(wav);
    expect(back.data.length).to.equal(slice(long, 0, 10).length);
    expect(back.data.equals(slice(long, 0, 10)), "bit-exact").to.equal(true);
  }

  it("a broker restart after a while of use: audio again within 2 s of the broker being back", async () => {
    // The timing the report was made with (1 s beats, 3 missed): a 1.5 s outage is within it.
    await system({ heartbeatMs: 1000, missedBeats: 3 });
    const wav = path.join(dir, "restart.wav");
    const p = await player(wav);
    const out = watchOutput(p);
    const list = await p.songs();
    const idOf = (file: string): string => list.find((s) => s.file === file)!.id;
    // A while of use: songs played to their end, one after another.
    for (const file of ["short-b.wav", "short-c.wav", "short-b.wav"]) {
      await p.play(idOf(file));
      expect(await p.waitForEnd()).to.equal("ended");
    }
    const long = song("long-a.wav");
    await p.play(idOf(long.file), 0, 12);
    await waitFor(() => p.position > 3, "playback to start");
    const port = sys.broker!.port;
    const mark = prime.output().length;
    await sys.stopBroker();
    // A deliberate outage of about 1.5 s, as reported.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await sys.startBroker(port);
    const backAt = performance.now();
    // What was buffered plays on for a moment: the silence, if any, comes after it.
    expect(await p.waitForEnd()).to.equal("ended");
    const silence = out.silenceAfter(backAt);
    console.log(`      silent ${Math.round(silence)} ms after the broker was back`);
    expect(silence, `silence after the broker was back (ms):\n${out.log()}`).to.be.below(2000);
    // Nobody's beats could arrive while the broker was away: the session outlives it.
    expect(count(prime, /logged in user=/, mark), out.log()).to.equal(0);
    expect(count(prime, /stopping reason=/, mark), "nodes stopped").to.equal(0);
    await p.close();
    const back = readWav(wav);
    expect(back.data.equals(slice(long, 0, 12)), "bit-exact").to.equal(true);
  });
});
