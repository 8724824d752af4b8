/**
 * P2P across faults (issue 14 part 3): a joiner stays with its host — it
 * does not fall back to a file node — across a broker restart and across a
 * change of prime, and the host's binding survives the change: the new prime
 * lists it and sends new joiners to it. Real broker, prime, plane and nodes;
 * host and joiner are players in this process, every byte they write checked.
 */
import { expect } from "chai";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { listHosts } from "../client/p2p/hosts.js";
import type { Player } from "../client/player.js";
import { TestSystem, type ChorusProcess } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";
import { Recorder, startPlayer } from "../harness/fixtures/p2p.js";
import { watchOutput } from "../harness/fixtures/recovery.js";
import { formats, writeSong, type TestSong } from "../harness/fixtures/player.js";

describe("P2P across a broker restart and a change of prime (real system)", function () {
  this.timeout(90_000);
  let sys: TestSystem;
  let client: ChorusConfig;
  let songs: TestSong[];
  let prime: { proc: ChorusProcess; id: string };
  let plane: { proc: ChorusProcess; id: string };
  const players: Player[] = [];

  beforeEach(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    const configs = ["prime", "plane"].map((name) => sys.config(name, { maxLoad: 6 }));
    songs = configs.map((c) => writeSong(c.music, "long.wav", 40, formats.mono22, 71));
    prime = await sys.startControl("prime", configs[0]!);
    plane = await sys.startControl("plane", configs[1]!);
    client = sys.config("client");
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed") console.log(sys.outputs());
    await Promise.all(players.splice(0).map((p) => p.close()));
    await sys.cleanup();
  });

  /** A host playing the song, and a joiner playing along with it. */
  async function hostAndJoiner(): Promise<{ host: Player; joiner: Player; rec: Recorder }> {
    const host = await startPlayer(client);
    players.push(host);
    const id = (await host.songs())[0]!.id;
    await host.play(id, 0);
    const nc = (await sys.login("FinalUser")).nc;
    const hostId = await waitFor(
      async () => (await listHosts(nc)).find((h) => h.position > 0.5)?.id,
      "the host to be listed",
    );
    const joiner = await startPlayer(client, false);
    players.push(joiner);
    const rec = new Recorder(joiner, songs.slice(0, 1));
    await joiner.join(hostId);
    await waitFor(() => joiner.position > 1.5, "the joiner to play");
    return { host, joiner, rec };
  }

  const fromHost = (p: Player): boolean => /P2P/.test(p.status().now?.source ?? "");

  it("a broker restart: the joiner stays with its host and hears it again (target 2 s)", async () => {
    const { joiner, rec } = await hostAndJoiner();
    const out = watchOutput(joiner);
    const port = sys.broker!.port;
    await sys.stopBroker();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await sys.startBroker(port);
    const backAt = performance.now();
    const was = joiner.position;
    await waitFor(() => joiner.position > was + 4, "the joiner to play on", 30_000);
    const silence = out.silenceAfter(backAt);
    console.log(`      silent ${Math.round(silence)} ms after the broker was back`);
    // The target is 2 s (alone: 0.45-0.8 s); two test files at a time on 2 cores can double it.
    expect(silence, `silence after the broker was back:\n${out.log()}`).to.be.below(4000);
    expect(fromHost(joiner), `source: ${joiner.status().now?.source}`).to.equal(true);
    expect(rec.wrong, "bytes that are not the song's").to.equal(0);
  });

  it("the prime killed: the joiner stays with its host, and the new prime sends new joiners to it", async () => {
    const { joiner, rec } = await hostAndJoiner();
    const out = watchOutput(joiner);
    prime.proc.child.kill("SIGKILL");
    const killedAt = performance.now();
    const nc = (await sys.login("AnotherUser")).nc;
    const listed = await waitFor(
      async () => (await listHosts(nc).catch(() => [])).find((h) => h.position > 0),
      "the new prime to list the host",
      15_000,
    );
    const late = await startPlayer(client, false);
    players.push(late);
    await late.join(listed.id);
    await waitFor(() => late.position > 0.5, "a new joiner to play");
    expect(fromHost(late)).to.equal(true);
    const was = joiner.position;
    await waitFor(() => joiner.position > was + 2, "the first joiner to play on");
    expect(out.silenceAfter(killedAt), out.log()).to.be.below(1000);
    expect(fromHost(joiner)).to.equal(true);
    expect(rec.wrong).to.equal(0);
    expect((await sys.nodes(await sys.connect())).find((n) => n.id === plane.id)?.kind).to.equal(
      "prime",
    );
  });
});
