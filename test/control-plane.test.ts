import { at } from "../wire/contract.js";
import { primeSpawn } from "../wire/prime.js";
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { call } from "../actors/runtime/endpoint.js";
import type { NodeView, SpawnableKind } from "../wire/presence.js";
import { dropBoundMs, TestSystem } from "../harness/system.js";
import { pidAlive, waitFor } from "../harness/wait.js";

describe("control plane (real nats-server, real processes)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let nc: NatsConnection;

  beforeEach(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    nc = await sys.connect("actor");
  });
  afterEach(async () => sys.cleanup());

  const spawn = async (kind: SpawnableKind): Promise<NodeView> => {
    const node = await call(nc, at(primeSpawn), { kind }, 20_000);
    sys.track(node.pid);
    return node;
  };

  it("spawns on the prime's machine under maxLoad, then spills to the plane with room", async () => {
    const prime = await sys.startControl("prime", sys.config("prime", { maxLoad: 2 }));
    const plane = await sys.startControl("plane", sys.config("plane", { maxLoad: 3 }));
    const placed = [];
    for (let i = 0; i < 4; i++) placed.push(await spawn(i % 2 ? "file" : "auth"));
    expect(placed.map((n) => n.owner)).to.deep.equal([prime.id, prime.id, plane.id, plane.id]);
    const list = await sys.nodes(nc);
    expect(list.filter((n) => n.owner === plane.id && n.kind !== "plane")).to.have.length(2);
    const planeView = list.find((n) => n.id === plane.id);
    expect(planeView?.load).to.equal(2);
    // Spawned nodes are real processes with the registry's pid.
    for (const n of placed) expect(pidAlive(n.pid)).to.equal(true);
  });

  it("answers NO_ROOM when no control node has room, and keeps running", async () => {
    await sys.startControl("prime", sys.config("prime", { maxLoad: 1 }));
    await spawn("auth");
    const err = await call(nc, at(primeSpawn), { kind: "auth" }).catch((e: unknown) => e);
    expect(err).to.have.property("code", "NO_ROOM");
    expect((await sys.nodes(nc)).map((n) => n.kind).sort()).to.deep.equal(["auth", "prime"]);
  });

  it("drops a dead plane's nodes after its missed beats, and only those, on the same host", async () => {
    // Same host id for both control nodes: identity must come from the owner id.
    const prime = await sys.startControl(
      "prime",
      sys.config("prime", { maxLoad: 1, hostId: "same-machine" }),
    );
    const plane = await sys.startControl(
      "plane",
      sys.config("plane", { maxLoad: 2, hostId: "same-machine" }),
    );
    const own = await spawn("auth");
    const theirs = [await spawn("auth"), await spawn("file")];
    expect(theirs.map((n) => n.owner)).to.deep.equal([plane.id, plane.id]);
    expect(own.host).to.equal(theirs[0]?.host);

    const killedAt = Date.now();
    // The plane and its nodes all die (its process alone would leave orphans the prime adopts).
    plane.proc.child.kill("SIGKILL");
    for (const n of theirs) process.kill(n.pid, "SIGKILL");
    await waitFor(async () => {
      const ids = (await sys.nodes(nc)).map((n) => n.id);
      return !ids.includes(plane.id) && !theirs.some((n) => ids.includes(n.id));
    }, "plane and its nodes to be dropped");
    const dropMs = Date.now() - killedAt;
    // Missed beats (too early a drop is the registry tests' job), plus slack for a busy machine.
    expect(dropMs, "ms from SIGKILL to the drop").to.be.below(dropBoundMs());
    const ids = (await sys.nodes(nc)).map((n) => n.id).sort();
    expect(ids).to.deep.equal([own.id, prime.id].sort());
    expect(pidAlive(own.pid)).to.equal(true);
  });

  it("a plane that stops cleanly takes its nodes with it at once", async () => {
    await sys.startControl("prime", sys.config("prime", { maxLoad: 0 }));
    const plane = await sys.startControl("plane", sys.config("plane", { maxLoad: 2 }));
    const node = await spawn("file");
    expect(await plane.proc.stop("SIGTERM")).to.equal(0);
    const ids = (await sys.nodes(nc)).map((n) => n.id);
    expect(ids).not.to.include(node.id);
    expect(ids).not.to.include(plane.id);
    expect(pidAlive(node.pid)).to.equal(false);
  });

  it("recovers the registry after a broker restart", async () => {
    const port = sys.broker!.port;
    const prime = await sys.startControl("prime", sys.config("prime", { maxLoad: 2 }));
    const plane = await sys.startControl("plane", sys.config("plane", { maxLoad: 2 }));
    const node = await spawn("auth");
    await sys.stopBroker();
    await sys.startBroker(port);
    const expected = [prime.id, plane.id, node.id].sort();
    await waitFor(
      async () => {
        const ids = (await sys.nodes(nc)).map((n) => n.id).sort();
        return JSON.stringify(ids) === JSON.stringify(expected);
      },
      "registry to recover",
      15_000,
    );
    // Still able to spawn after the restart.
    const again = await spawn("file");
    expect(again.owner).to.equal(prime.id);
  });

  it("a spawned node that crashes harms no other and leaves the registry", async () => {
    await sys.startControl("prime", sys.config("prime", { maxLoad: 3 }));
    const a = await spawn("auth");
    const b = await spawn("auth");
    process.kill(a.pid, "SIGKILL");
    await waitFor(
      async () => !(await sys.nodes(nc)).some((n) => n.id === a.id),
      "crashed node to drop",
    );
    expect((await sys.nodes(nc)).map((n) => n.id)).to.include(b.id);
    expect(pidAlive(b.pid)).to.equal(true);
    // Its slot under maxLoad is free again.
    const c = await spawn("file");
    expect(c.id).to.be.a("string");
  });
});
