/**
 * The player library and the `chorus songs` / `chorus play` commands against
 * a real system: broker, prime, auth and file nodes it spawns, real WAV files.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { NullOutput } from "../client/audio/null.js";
import type { AudioOutput } from "../client/audio/output.js";
import { WavOutput } from "../client/audio/wav.js";
import { findFileSource } from "../client/file-source.js";
import { Player } from "../client/player.js";
import type { TestSystem } from "../harness/system.js";
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

describe("player client (real system)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let songs: TestSong[];
  let client: ChorusConfig;
  let dir: string;
  const players: Player[] = [];

  before(async () => {
    ({ sys, songs, client } = await startSystem((music) => [
      writeSong(music, "short-mono.wav", 1.5, formats.mono22, 1),
      writeSong(music, "long-8k.wav", 20, formats.mono8k, 2),
      writeSong(music, "cd.wav", 2, formats.cd, 3),
    ]));
  });
  after(async () => {
    await Promise.all(players.map((p) => p.close()));
    await sys?.cleanup();
  });
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "chorus-player-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const song = (file: string): TestSong => songs.find((s) => s.file === file) as TestSong;

  async function player(
    output: AudioOutput = new NullOutput(),
    giveUpMs?: number,
  ): Promise<Player> {
    const p = await Player.start({
      config: client,
      credentials: demoUser,
      output,
      findSource: findFileSource,
      giveUpMs,
    });
    players.push(p);
    return p;
  }

  async function authLoad(): Promise<number> {
    const nc = await sys.connect();
    const nodes = await sys.nodes(nc);
    return nodes.filter((n) => n.kind === "auth").reduce((sum, n) => sum + n.load, 0);
  }

  it("logs in, lists songs, plays a song into a WAV file byte for byte, logs out on close", async () => {
    const wav = path.join(dir, "a.wav");
    const p = await player(new WavOutput(wav));
    expect(p.info().authNode).to.match(/^auth/);
    const list = await p.songs();
    expect(list.map((s) => s.file).sort()).to.deep.equal([
      "cd.wav",
      "long-8k.wav",
      "short-mono.wav",
    ]);
    const cd = list.find((s) => s.file === "cd.wav");
    expect(cd?.duration).to.be.closeTo(2, 0.01);
    expect(p.info().fileNode).to.match(/^file/);
    await p.play(cd!.id);
    expect(await p.waitForEnd()).to.equal("ended");
    expect(p.status().now?.state).to.equal("ended");
    expect(p.status().underruns).to.equal(0);
    await p.close();
    const back = readWav(wav);
    expect(back.format).to.deep.equal(formats.cd);
    expect(back.data.equals(song("cd.wav").pcm)).to.equal(true);
    await waitFor(async () => (await authLoad()) === 0, "the session to be logged out");
  });

  it("pause stops the position, resume goes on, seek lands where asked", async () => {
    const p = await player();
    const id = (await p.songs()).find((s) => s.file === "long-8k.wav")!.id;
    await p.play(id);
    await waitFor(() => p.position > 0.3, "playback to start");
    await p.pause();
    expect(p.status().now?.state).to.equal("paused");
    const at = p.position;
    await new Promise((r) => setTimeout(r, 400)); // an observation window: no progress while paused
    expect(p.position).to.equal(at);
    await p.resume();
    await waitFor(() => p.position > at + 0.2, "playback to go on");
    /** Seek, then play on from there: never further than the time since the seek. */
    const seekTo = async (to: number): Promise<void> => {
      const t0 = performance.now();
      await p.seek(to);
      expect(p.position).to.be.closeTo(to, 0.01);
      await waitFor(() => p.position > to + 0.1, `playback after the seek to ${to}`);
      expect(p.position - to, "played since the seek (s)").to.be.below(
        (performance.now() - t0) / 1000 + 0.05,
      );
    };
    await seekTo(15);
    await seekTo(2);
    // Near the end the node has sent everything, end marker included: a seek back still lands.
    await seekTo(18.5);
    await seekTo(3);
    await p.stop();
    expect(p.status().now?.state).to.equal("stopped");
  });

  it("carries on from the same byte after a broker restart", async function () {
    const wav = path.join(dir, "restart.wav");
    const p = await player(new WavOutput(wav));
    const long = song("long-8k.wav");
    const id = (await p.songs()).find((s) => s.file === long.file)!.id;
    await p.play(id, 10, 6);
    await waitFor(() => p.position > 11, "playback to start");
    const port = sys.broker!.port;
    await sys.stopBroker();
    await sys.startBroker(port);
    expect(await p.waitForEnd()).to.equal("ended");
    const back = readWav(wav);
    expect(back.data.length).to.equal(slice(long, 10, 6).length);
    expect(back.data.equals(slice(long, 10, 6))).to.equal(true);
  });

  it("carries on from another file node when its node is killed mid-song", async () => {
    const wav = path.join(dir, "killed.wav");
    const p = await player(new WavOutput(wav));
    const long = song("long-8k.wav");
    const id = (await p.songs()).find((s) => s.file === long.file)!.id;
    await p.play(id, 0, 6);
    await waitFor(() => p.position > 1, "playback to start");
    const first = p.info().fileNode!;
    const nc = await sys.connect();
    const node = (await sys.nodes(nc)).find((n) => n.id === first)!;
    process.kill(node.pid, "SIGKILL");
    expect(await p.waitForEnd()).to.equal("ended");
    expect(p.info().fileNode).not.to.equal(first);
    expect(readWav(wav).data.equals(slice(long, 0, 6))).to.equal(true);
  });

  it("refuses a wrong password and an unknown song with readable errors", async () => {
    try {
      await Player.start({
        config: client,
        credentials: { user: "Someone", password: "nope" },
        output: new NullOutput(),
        findSource: findFileSource,
      });
      expect.fail("should throw");
    } catch (err) {
      expect((err as Error).message).to.equal("wrong user name or password");
    }
    const p = await player();
    try {
      await p.play("no-such-song");
      expect.fail("should throw");
    } catch (err) {
      expect((err as Error).message).to.match(/unknown song|no such song|not found/i);
    }
  });

  it("gives up with a readable error when the broker does not come back", async () => {
    const p = await player(new NullOutput(), 1500);
    const id = (await p.songs()).find((s) => s.file === "long-8k.wav")!.id;
    await p.play(id);
    await waitFor(() => p.position > 0.2, "playback to start");
    const port = sys.broker!.port;
    await sys.stopBroker();
    try {
      await p.waitForEnd();
      expect.fail("should fail");
    } catch (err) {
      expect((err as Error).message).to.match(
        /^lost the stream \(.*\) and could not get it back in 1\.5 s$/,
      );
    } finally {
      await sys.startBroker(port);
    }
    expect(p.status().now?.state).to.equal("failed");
  });
});
