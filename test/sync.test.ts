import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import path from "node:path";
import { call } from "../actors/endpoint.js";
import { subjects } from "../actors/subjects.js";
import type { SyncStatus } from "../actors/sync/protocol.js";
import { TestSystem } from "./helpers/system.js";
import { waitFor } from "./helpers/wait.js";
import { listDir, sha256OrUndefined, writeWav } from "./sync-fixtures.js";

const intervalMs = 300;

describe("music sync between control nodes (real nats-server, real processes)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let nc: NatsConnection;
  const savedInterval = process.env.CHORUS_SYNC_INTERVAL_MS;

  before(() => {
    // TestSystem passes the environment on to the `chorus` processes it starts.
    process.env.CHORUS_SYNC_INTERVAL_MS = String(intervalMs);
  });
  after(() => {
    if (savedInterval === undefined) delete process.env.CHORUS_SYNC_INTERVAL_MS;
    else process.env.CHORUS_SYNC_INTERVAL_MS = savedInterval;
  });
  beforeEach(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    nc = await sys.connect("actor");
  });
  afterEach(async () => sys.cleanup());

  const musicOf = (name: string): string => sys.config(name).music;
  const arrives = (dir: string, name: string, hash: string, timeoutMs = 10_000): Promise<true> =>
    waitFor(
      async () => (await sha256OrUndefined(path.join(dir, name))) === hash || undefined,
      `${name} to arrive in ${dir}`,
      timeoutMs,
    );
  const status = (run = false): Promise<SyncStatus> =>
    call<SyncStatus>(nc, subjects.primeSync, run ? { run } : {}, 30_000);

  it("a file added on a plane arrives at the prime, and one on the prime at the plane", async () => {
    await sys.startControl("prime", sys.config("prime"));
    await sys.startControl("plane", sys.config("plane"));
    const fromPlane = await writeWav(path.join(musicOf("plane"), "from plane.wav"), 300_000);
    const fromPrime = await writeWav(path.join(musicOf("prime"), "from-prime.wav"), 200_000);
    await arrives(musicOf("prime"), "from plane.wav", fromPlane);
    await arrives(musicOf("plane"), "from-prime.wav", fromPrime);
    const s = await status(true);
    expect(s.nodes.map((n) => [n.kind, n.files, n.inSync, n.missing, n.inFlight])).to.deep.equal([
      ["prime", 2, 2, 0, 0],
      ["plane", 2, 2, 0, 0],
    ]);
    // No temporary files anywhere.
    expect(await listDir(musicOf("prime"))).to.deep.equal(["from plane.wav", "from-prime.wav"]);
    expect(await listDir(musicOf("plane"))).to.deep.equal(["from plane.wav", "from-prime.wav"]);
  });
});
