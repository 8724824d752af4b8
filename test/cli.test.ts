import { at } from "../wire/contract.js";
import { primeSpawn } from "../wire/prime.js";
import { expect } from "chai";
import { connectBroker } from "../actors/runtime/connect.js";
import { call } from "../actors/runtime/endpoint.js";
import type { NodeView } from "../wire/presence.js";
import { freePort, portOpen } from "../harness/ports.js";
import { TestSystem } from "../harness/system.js";
import { pidAlive, waitFor } from "../harness/wait.js";

describe("chorus command line", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  beforeEach(() => (sys = new TestSystem()));
  afterEach(async () => sys.cleanup());

  it("prints help, and rejects unknown commands with exit code 2", async () => {
    const help = sys.run(["--help"], sys.config());
    expect(await help.exited).to.equal(0);
    for (const name of ["up", "broker", "prime", "plane", "nodes", "monitor"]) {
      expect(help.output()).to.match(new RegExp(`^  ${name} `, "m"));
    }
    const nodesHelp = sys.run(["nodes", "--help"], sys.config());
    expect(await nodesHelp.exited).to.equal(0);
    expect(nodesHelp.output()).to.include("--json");
    const unknown = sys.run(["dance"], sys.config());
    expect(await unknown.exited).to.equal(2);
    expect(unknown.output().trim().split("\n")).to.have.length(1);
  });

  it("says in one line that no broker is reachable", async () => {
    const port = await freePort();
    const nodes = sys.run(["nodes"], sys.config("x", { nats: `nats://127.0.0.1:${port}` }));
    expect(await nodes.exited).to.equal(1);
    expect(nodes.output().trim()).to.match(
      /^chorus: cannot reach the broker at nats:\/\/127\.0\.0\.1:\d+/,
    );
    expect(nodes.output().trim().split("\n")).to.have.length(1);
  });

  it("rejects a bad setting with a clear message", async () => {
    const proc = sys.run(["nodes", "--heartbeat-ms", "soon"], sys.config());
    expect(await proc.exited).to.equal(1);
    expect(proc.output()).to.include("--heartbeat-ms must be a whole number");
  });

  it("`chorus up` starts broker and prime; nodes --json lists it; Ctrl-C leaves no process behind", async () => {
    const port = await freePort();
    const config = sys.config("up", {
      nats: `nats://127.0.0.1:${port}`,
      monitorPort: 0,
      maxLoad: 2,
    });
    const up = sys.run(["up"], config);
    const list = await waitFor(
      async () => {
        const nodes = sys.run(["nodes", "--json"], config);
        if ((await nodes.exited) !== 0) return undefined;
        return JSON.parse(nodes.output()) as NodeView[];
      },
      "chorus up to answer chorus nodes",
      20_000,
    );
    expect(list).to.have.length(1);
    for (const key of ["id", "kind", "owner", "host", "load", "capacity"]) {
      expect(list[0]).to.have.property(key);
    }
    expect(list[0]?.kind).to.equal("prime");

    // A spawned node must go too when `chorus up` is stopped.
    const upNc = await connectBroker(config, "actor", "test");
    const node = await call(upNc, at(primeSpawn), { kind: "auth" }, 20_000);
    sys.track(node.pid);
    await upNc.close();

    up.child.kill("SIGINT");
    expect(await up.exited).to.equal(0);
    expect(pidAlive(node.pid)).to.equal(false);
    expect(await portOpen(port)).to.equal(false);
    expect(up.output()).to.include("broker stopped");
  });

  it("`chorus up` uses a broker that is already running instead of starting one", async () => {
    const broker = await sys.startBroker();
    const up = sys.run(["up"], sys.config("up"));
    await waitFor(
      () => up.output().includes("using the Chorus broker already running"),
      "chorus up to start",
    );
    up.child.kill("SIGINT");
    expect(await up.exited).to.equal(0);
    expect(await portOpen(broker.port)).to.equal(true);
  });
});
