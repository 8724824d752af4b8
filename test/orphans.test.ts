/**
 * Orphans keep serving (issue 14 part 2): when a control node's process is
 * SIGKILLed, the auth and file nodes it spawned keep their sessions and
 * streams, and are adopted — by the control node that comes back on their
 * machine, or by the prime — so the listener hears nothing. Nobody adopts
 * them: they stop after their grace. Real broker, real control processes,
 * real nodes; the player in this process writes a WAV file and every block
 * it writes is timed.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { WavOutput } from "../client/audio/wav.js";
import { findFileSource } from "../client/file-source.js";
import { Player } from "../client/player.js";
import type { NodeView } from "../wire/presence.js";
import { TestSystem, testTiming } from "../harness/system.js";
import { pidAlive, waitFor } from "../harness/wait.js";
import { count, watchOutput } from "../harness/fixtures/recovery.js";
import {
  demoUser,
  formats,
  readWav,
  slice,
  writeSong,
  type TestSong,
} from "../harness/fixtures/player.js";

describe("orphans keep serving and are adopted (real processes, kill -9)", function () {
  this.timeout(90_000);
  let sys: TestSystem;
  let nc: NatsConnection;
  let dir: string;
  let song: TestSong;
  const players: Player[] = [];

  beforeEach(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    nc = await sys.connect();
    dir = mkdtempSync(path.join(tmpdir(), "chorus-orphans-"));
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed") console.log(sys.outputs());
    await Promise.all(players.splice(0).map((p) => p.close()));
    await sys.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A prime (or plane) whose music folder has the test song. */
  function controlConfig(name: string, overrides: Partial<ChorusConfig> = {}): ChorusConfig {
    const config = sys.config(name, { maxLoad: 6, ...overrides });
    song = writeSong(config.music, "long.wav", 16, formats.mono8k, 51);
    return config;
  }

  /** A player in this process, playing the first 10 s of the song. */
  async function play(): Promise<{ p: Player; out: ReturnType<typeof watchOutput>; wav: string }> {
    const wav = path.join(dir, "out.wav");
    const p = await Player.start({
      config: sys.config("client"),
      credentials: demoUser,
      output: new WavOutput(wav),
      findSource: findFileSource,
    });
    players.push(p);
    const out = watchOutput(p);
    const id = (await p.songs()).find((s) => s.file === song.file)!.id;
    await p.play(id, 0, 10);
    await waitFor(() => p.position > 1.5, "playback to start");
    out.reset();
    return { p, out, wav };
  }

  const node = async (id: string): Promise<NodeView | undefined> =>
    (await sys.nodes(nc).catch(() => [])).find((n) => n.id === id);

  /** What the listener heard: the whole excerpt, bit-exact, with no stall and no restart. */
  async function heardItAll(
    p: Player,
    out: ReturnType<typeof watchOutput>,
    wav: string,
  ): Promise<void> {
    expect(await p.waitForEnd()).to.equal("ended");
    expect(out.longestGapMs(), `longest silence (ms):\n${out.log()}`).to.be.below(1000);
    expect(
      out.messages.filter((m) => /carrying on from|logged in again|logging in again/.test(m)),
    ).to.deep.equal([]);
    expect(p.status().underruns).to.equal(0);
    await p.close();
    expect(readWav(wav).data.equals(slice(song, 0, 10)), "bit-exact").to.equal(true);
  }

  /** The nodes the player uses, as the registry shows them. */
  async function playerNodes(p: Player): Promise<NodeView[]> {
    const ids = [p.info().authNode!, p.info().fileNode!];
    return Promise.all(ids.map(async (id) => (await node(id))!));
  }

  /** Wait until every one of `nodes` is owned by `owner`, with the same PIDs (not new nodes). */
  async function ownedBy(nodes: NodeView[], owner: string, what: string): Promise<void> {
    await waitFor(
      async () => {
        for (const n of nodes) {
          const now = await node(n.id);
          if (now?.owner !== owner || now.pid !== n.pid) return false;
        }
        return true;
      },
      what,
      15_000,
    );
  }

  it("the prime's process SIGKILLed and started again: its nodes adopted, session and stream intact", async () => {
    const config = controlConfig("prime");
    const first = await sys.startControl("prime", config);
    const { p, out, wav } = await play();
    const nodes = await playerNodes(p);
    expect(nodes.map((n) => n.owner)).to.deep.equal([first.id, first.id]);
    const mark = first.proc.output().length;
    first.proc.child.kill("SIGKILL");
    const again = await sys.startControl("prime", config);
    expect(again.id).not.to.equal(first.id);
    await ownedBy(nodes, again.id, "the restarted prime to adopt its machine's nodes");
    await heardItAll(p, out, wav);
    // The nodes print to the dead prime's output: no new login, no new stream.
    expect(count(first.proc, /logged in user=/, mark)).to.equal(0);
    expect(count(first.proc, /stream started stream=/, mark)).to.equal(0);
  });

  it("a prime SIGKILLed with a plane running: the plane serves and adopts its nodes, which go home when it restarts", async () => {
    const primeConfig = controlConfig("prime");
    const prime = await sys.startControl("prime", primeConfig);
    const plane = await sys.startControl("plane", controlConfig("plane"));
    const { p, out, wav } = await play();
    const nodes = await playerNodes(p);
    expect(nodes.map((n) => n.owner)).to.deep.equal([prime.id, prime.id]);
    const killedAt = Date.now();
    prime.proc.child.kill("SIGKILL");
    await ownedBy(nodes, plane.id, "the plane (now prime) to adopt the dead prime's nodes");
    const adoptedMs = Date.now() - killedAt;
    expect((await node(plane.id))?.kind).to.equal("prime");
    // A new user logs in as usual, at the adopted auth node (it has room).
    const other = await sys.login("AnotherUser");
    expect(Date.now() - killedAt, "ms to a new login").to.be.below(3000);
    expect(other.authNode).to.equal(nodes[0]!.id);
    // The dead prime's machine gets its control node back: it takes its nodes home.
    const back = await sys.startControl("plane", primeConfig);
    await ownedBy(nodes, back.id, "the machine's own control node to take its nodes back");
    await heardItAll(p, out, wav);
    console.log(`      adopted ${adoptedMs} ms after SIGKILL`);
    // Exactly one control node per machine owns them, and stopping it stops them.
    await back.proc.stop("SIGTERM");
    await waitFor(() => nodes.every((n) => !pidAlive(n.pid)), "its nodes to stop with it");
  });

  it("an orphan nobody adopts serves on through its grace, then stops", async () => {
    const graceMs = 2500;
    const config = controlConfig("prime", { orphanGraceMs: graceMs });
    const prime = await sys.startControl("prime", config);
    const session = await sys.login("Someone", demoUser.password, { heartbeats: false });
    const auth = (await node(session.authNode))!;
    prime.proc.child.kill("SIGKILL");
    const killedAt = Date.now();
    // No prime, no plane: the auth node keeps the session alive on its own.
    await waitFor(
      () => Date.now() - killedAt > graceMs / 2 && session.beat().then(() => true),
      "beats to keep working while orphaned",
    );
    expect(pidAlive(auth.pid), "serving through its grace").to.equal(true);
    await waitFor(() => !pidAlive(auth.pid), "the orphan to stop", graceMs + 10_000);
    const stoppedAfter = Date.now() - killedAt;
    expect(stoppedAfter).to.be.within(graceMs, graceMs + 6 * testTiming.heartbeatMs + 2000);
  });
});
