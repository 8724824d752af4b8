/**
 * No leftovers (issue 14 part 4): each machine's audio stream reserves part
 * of the broker's memory store, so a machine that is gone gives it back —
 * at once when its control node stops, after 30 beats when it was killed.
 */
import { expect } from "chai";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { at } from "../wire/contract.js";
import { audioStreamName } from "../wire/file.js";
import { primeSpawn } from "../wire/prime.js";
import { call } from "../actors/runtime/endpoint.js";
import { leftoverBeats } from "../actors/control/leftovers.js";
import { TestSystem, testTiming } from "../harness/system.js";
import { pidAlive, waitFor } from "../harness/wait.js";

describe("no leftovers on the broker (real processes)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let nc: NatsConnection;

  beforeEach(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    nc = await sys.connect();
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed") console.log(sys.outputs());
    await sys.cleanup();
  });

  const audioStreams = async (): Promise<string[]> => {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const name of jsm.streams.names())
      if (name.startsWith("CHORUS_AUDIO_")) names.push(name);
    return names.sort();
  };

  /** A file node spawned by the prime (on the prime's machine while it has room). */
  const spawnFile = () => call(nc, at(primeSpawn), { kind: "file" }, 20_000);

  it("a control node that stops releases its machine's audio stream; the next one makes its own", async () => {
    for (const name of ["first", "second"]) {
      const prime = await sys.startControl("prime", sys.config(name));
      const file = await spawnFile();
      expect(await audioStreams()).to.deep.equal([audioStreamName(file.host)]);
      await prime.proc.stop("SIGTERM");
      await waitFor(async () => (await audioStreams()).length === 0, "the stream to be released");
    }
  });

  it(`a machine killed outright: the prime releases its stream after ${leftoverBeats} beats`, async () => {
    await sys.startControl("prime", sys.config("prime", { maxLoad: 0 }));
    const plane = await sys.startControl("plane", sys.config("plane"));
    const file = await spawnFile();
    expect(await audioStreams()).to.deep.equal([audioStreamName(file.host)]);
    // The whole machine goes: its control node and its node, both SIGKILLed.
    plane.proc.child.kill("SIGKILL");
    process.kill(file.pid, "SIGKILL");
    const killedAt = Date.now();
    await waitFor(() => !pidAlive(file.pid), "the file node to die");
    const boundMs = (leftoverBeats + 5 * 2 + testTiming.missedBeats) * testTiming.heartbeatMs;
    await waitFor(
      async () => (await audioStreams()).length === 0,
      "the dead machine's stream to be released",
      boundMs + 5000,
    );
    const tookMs = Date.now() - killedAt;
    expect(tookMs, "not before the machine was gone for its beats").to.be.at.least(
      leftoverBeats * testTiming.heartbeatMs,
    );
  });
});
