/**
 * Several machines: three hosts with their own addresses (network
 * namespaces), each running its own nats-server of one NATS cluster.
 */
import { expect } from "chai";
import { existsSync } from "node:fs";
import path from "node:path";
import type { NodeView } from "../actors/presence.js";
import { pcmOf, writeTone } from "./file-fixtures.js";
import { ThreeMachines } from "./helpers/cluster.js";
import { netnsUnavailable } from "./helpers/netns.js";
import { waitFor } from "./helpers/wait.js";

const why = netnsUnavailable();

describe("a NATS cluster across three hosts (network namespaces)", function () {
  this.timeout(120_000);
  let m: ThreeMachines;

  before(function () {
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    m = new ThreeMachines();
  });
  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(m.sys.outputs());
  });
  after(async () => m?.destroy());

  it("runs the whole story: spill to the plane's machine, spread logins, stream across hosts, cut the plane off, take it back and sync", async () => {
    // A song on both machines, long enough to outlive the cut.
    const song = "long-song.wav";
    for (const host of [m.prime, m.plane]) {
      writeTone(path.join(m.config(host).music, song), 40, { rate: 8000, channels: 1 });
    }
    // A song only the plane's machine has, to be synced to the prime's.
    const planeOnly = "plane-only.wav";
    writeTone(path.join(m.config(m.plane).music, planeOnly), 2, { rate: 8000, channels: 1 });
    const limits = { maxLoad: 2, fileCapacity: 1, syncIntervalMs: 1000 };
    m.on(m.listener, ["broker"]);
    m.on(m.prime, ["up"], limits);
    m.on(m.plane, ["plane"], { ...limits, maxLoad: 4 });
    const joined = await waitFor(
      async () => {
        const list = await m.nodesSeenFrom(m.listener);
        return (
          list?.some((n) => n.kind === "plane") && list.some((n) => n.kind === "prime") && list
        );
      },
      "prime and plane to be listed from the listener's host",
      40_000,
    );
    const primeNode = joined.find((n) => n.kind === "prime") as NodeView;
    const planeNode = joined.find((n) => n.kind === "plane") as NodeView;
    expect(primeNode.host).not.to.equal(planeNode.host);

    const synced = path.join(m.config(m.prime).music, planeOnly);
    await waitFor(
      () => existsSync(synced),
      "the plane's song to be synced to the prime's machine",
      30_000,
    );
    expect(
      Buffer.compare(
        await pcmOf(synced),
        await pcmOf(path.join(m.config(m.plane).music, planeOnly)),
      ),
    ).to.equal(0);

    // User 1 fills the prime's machine: an auth node and a file node (maxLoad 2).
    const first = m.listen("Someone", [song, "--for", "8", "--out", "null"]);
    await waitFor(
      async () => (await m.nodesSeenFrom(m.listener))?.some((n) => n.kind === "file" && n.load > 0),
      "user 1 to stream",
      30_000,
    );
    // User 2 shares the auth node; its stream needs a file node on the plane's machine.
    const out = path.join(m.sys.root, "user2.wav");
    const second = m.listen("AnotherUser", [song, "--for", "25", "--out", out]);
    await waitFor(
      async () =>
        (await m.nodesSeenFrom(m.listener))?.some((n) => n.kind === "auth" && n.load === 2),
      "user 2 to log in",
      30_000,
    );
    // User 3 finds the auth node full: a new one is spawned on the plane's machine.
    const third = m.listen("FinalUser", [song, "--for", "2", "--out", "null"]);
    const spread = await waitFor(
      async () => {
        const list = await m.nodesSeenFrom(m.listener);
        const auth = list?.filter((n) => n.kind === "auth") ?? [];
        return auth.length === 2 && auth.every((n) => n.load > 0) && list;
      },
      "three users on two auth nodes",
      30_000,
    );
    const auth = spread.filter((n) => n.kind === "auth");
    expect(auth.find((n) => n.owner === primeNode.id)?.load).to.equal(2);
    expect(auth.find((n) => n.owner === planeNode.id)?.load).to.equal(1);
    const planeFiles = spread.filter((n) => n.kind === "file" && n.owner === planeNode.id);
    expect(planeFiles.length, "a file node on the plane's machine").to.be.greaterThan(0);
    expect(await first.exited, first.output()).to.equal(0);
    expect(await third.exited, third.output()).to.equal(0);

    // Another listener joins user 2 P2P and hears the same song, contiguous, from where it was.
    const joinOut = path.join(m.sys.root, "joiner.wav");
    const joiner = m.listen("FinalUser", ["--join", "AnotherUser", "--for", "3", "--out", joinOut]);
    expect(await joiner.exited, joiner.output()).to.equal(0);
    const heard = await pcmOf(joinOut);
    const whole = await pcmOf(path.join(m.config(m.prime).music, song));
    expect(heard.length).to.be.at.least(2 * 8000 * 2);
    expect(whole.indexOf(heard), "the joiner's audio is a stretch of the song").to.be.greaterThan(
      0,
    );

    // Cut the plane's machine off while user 2 streams from it.
    const before = await m.nodesSeenFrom(m.listener);
    const planeOwned = (before ?? []).filter(
      (n) => n.owner === planeNode.id || n.id === planeNode.id,
    );
    const kept = (before ?? [])
      .filter((n) => !planeOwned.includes(n))
      .map((n) => n.id)
      .sort();
    const cutAt = Date.now();
    m.net.setLink(m.plane, false);
    await waitFor(
      async () => {
        const ids = (await m.nodesSeenFrom(m.listener))?.map((n) => n.id);
        return ids && planeOwned.every((n) => !ids.includes(n.id));
      },
      "the cut-off machine's nodes to be dropped",
      20_000,
    );
    const dropMs = Date.now() - cutAt;
    const left = (await m.nodesSeenFrom(m.listener))?.map((n) => n.id).sort();
    expect(left).to.include.members(kept);
    expect(left?.some((id) => planeOwned.some((n) => n.id === id))).to.equal(false);
    // 3 beats of 200 ms, plus the time a `chorus nodes` process takes to ask.
    expect(dropMs).to.be.below(3000);

    // User 2 carries on from the prime's machine and gets every byte.
    expect(await second.exited, second.output()).to.equal(0);
    const got = await pcmOf(out);
    const want = (await pcmOf(path.join(m.config(m.prime).music, song))).subarray(0, got.length);
    expect(got.length).to.be.at.least(25 * 8000 * 2 - 8000);
    expect(Buffer.compare(got, want)).to.equal(0);

    // A song added on the plane while it was cut off reaches the prime once it is back.
    const whileCut = "added-while-cut.wav";
    writeTone(path.join(m.config(m.plane).music, whileCut), 1, { rate: 8000, channels: 1 });
    m.net.setLink(m.plane, true);
    await waitFor(
      async () => (await m.nodesSeenFrom(m.listener))?.some((n) => n.id === planeNode.id),
      "the plane to rejoin",
      30_000,
    );
    await waitFor(
      () => existsSync(path.join(m.config(m.prime).music, whileCut)),
      "the rejoined plane's new song to be synced",
      30_000,
    );
  });
});
