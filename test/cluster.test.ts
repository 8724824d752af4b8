/**
 * Several machines: three hosts with their own addresses (network
 * namespaces), each running its own nats-server of one NATS cluster.
 */
import { expect } from "chai";
import { existsSync } from "node:fs";
import path from "node:path";
import type { ChorusConfig } from "../actors/config.js";
import type { NodeView } from "../actors/presence.js";
import { pcmOf, writeTone } from "./file-fixtures.js";
import { netnsUnavailable, TestNetwork, type TestHost } from "./helpers/netns.js";
import { TestSystem, type ChorusProcess } from "./helpers/system.js";
import { waitFor } from "./helpers/wait.js";

const why = netnsUnavailable();

describe("a NATS cluster across three hosts (network namespaces)", function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let net: TestNetwork;
  let primeHost: TestHost;
  let planeHost: TestHost;
  let listenerHost: TestHost;

  before(function () {
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    sys = new TestSystem();
    net = new TestNetwork();
    primeHost = net.addHost("prime");
    planeHost = net.addHost("plane");
    listenerHost = net.addHost("listener");
  });
  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(sys.outputs());
  });
  after(async () => {
    await sys?.cleanup();
    net?.destroy();
  });

  /**
   * Each host's config, as the README tells: its own broker; the first
   * machine's accepts routes, the others need only its address.
   */
  function hostConfig(host: TestHost, overrides: Partial<ChorusConfig> = {}): ChorusConfig {
    return sys.config(host.name, {
      nats: `nats://${host.address}:4222`,
      peers: host === primeHost ? [] : [`${primeHost.address}:6222`],
      clusterListen: `${host.address}:6222`,
      monitorPort: 0,
      ...overrides,
    });
  }

  function on(
    host: TestHost,
    args: string[],
    overrides: Partial<ChorusConfig> = {},
  ): ChorusProcess {
    return sys.run(args, hostConfig(host, overrides), {}, net.exec(host));
  }

  async function nodesSeenFrom(host: TestHost): Promise<NodeView[] | undefined> {
    const proc = on(host, ["nodes", "--json"]);
    if ((await proc.exited) !== 0) return undefined;
    return JSON.parse(proc.output()) as NodeView[];
  }

  /** `chorus play` from the listener's host as one of the demo users. */
  function listen(user: string, args: string[]): ChorusProcess {
    return sys.run(
      ["play", ...args, "--user", user],
      hostConfig(listenerHost),
      { CHORUS_PASSWORD: "password123" },
      net.exec(listenerHost),
    );
  }

  it("runs the whole story: spill to the plane's machine, spread logins, stream across hosts, cut the plane off and take it back", async () => {
    // A song on both machines, long enough to outlive the cut.
    const song = "long-song.wav";
    for (const host of [primeHost, planeHost]) {
      writeTone(path.join(hostConfig(host).music, song), 40, { rate: 8000, channels: 1 });
    }
    // A song only the plane's machine has, to be synced to the prime's.
    const planeOnly = "plane-only.wav";
    writeTone(path.join(hostConfig(planeHost).music, planeOnly), 2, { rate: 8000, channels: 1 });
    const limits = { maxLoad: 2, fileCapacity: 1, syncIntervalMs: 1000 };
    on(listenerHost, ["broker"]);
    on(primeHost, ["up"], limits);
    on(planeHost, ["plane"], { ...limits, maxLoad: 4 });
    const joined = await waitFor(
      async () => {
        const list = await nodesSeenFrom(listenerHost);
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

    const synced = path.join(hostConfig(primeHost).music, planeOnly);
    await waitFor(
      () => existsSync(synced),
      "the plane's song to be synced to the prime's machine",
      30_000,
    );
    expect(
      Buffer.compare(
        await pcmOf(synced),
        await pcmOf(path.join(hostConfig(planeHost).music, planeOnly)),
      ),
    ).to.equal(0);

    // User 1 fills the prime's machine: an auth node and a file node (maxLoad 2).
    const first = listen("Someone", [song, "--for", "8", "--out", "null"]);
    await waitFor(
      async () => (await nodesSeenFrom(listenerHost))?.some((n) => n.kind === "file" && n.load > 0),
      "user 1 to stream",
      30_000,
    );
    // User 2 shares the auth node; its stream needs a file node on the plane's machine.
    const out = path.join(sys.root, "user2.wav");
    const second = listen("AnotherUser", [song, "--for", "25", "--out", out]);
    await waitFor(
      async () =>
        (await nodesSeenFrom(listenerHost))?.some((n) => n.kind === "auth" && n.load === 2),
      "user 2 to log in",
      30_000,
    );
    // User 3 finds the auth node full: a new one is spawned on the plane's machine.
    const third = listen("FinalUser", [song, "--for", "2", "--out", "null"]);
    const spread = await waitFor(
      async () => {
        const list = await nodesSeenFrom(listenerHost);
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

    // Cut the plane's machine off while user 2 streams from it.
    const before = await nodesSeenFrom(listenerHost);
    const planeOwned = (before ?? []).filter(
      (n) => n.owner === planeNode.id || n.id === planeNode.id,
    );
    const kept = (before ?? [])
      .filter((n) => !planeOwned.includes(n))
      .map((n) => n.id)
      .sort();
    const cutAt = Date.now();
    net.setLink(planeHost, false);
    await waitFor(
      async () => {
        const ids = (await nodesSeenFrom(listenerHost))?.map((n) => n.id);
        return ids && planeOwned.every((n) => !ids.includes(n.id));
      },
      "the cut-off machine's nodes to be dropped",
      20_000,
    );
    const dropMs = Date.now() - cutAt;
    const left = (await nodesSeenFrom(listenerHost))?.map((n) => n.id).sort();
    expect(left).to.include.members(kept);
    expect(left?.some((id) => planeOwned.some((n) => n.id === id))).to.equal(false);
    // 3 beats of 200 ms, plus the time a `chorus nodes` process takes to ask.
    expect(dropMs).to.be.below(3000);

    // User 2 carries on from the prime's machine and gets every byte.
    expect(await second.exited, second.output()).to.equal(0);
    const got = await pcmOf(out);
    const want = (await pcmOf(path.join(hostConfig(primeHost).music, song))).subarray(
      0,
      got.length,
    );
    expect(got.length).to.be.at.least(25 * 8000 * 2 - 8000);
    expect(Buffer.compare(got, want)).to.equal(0);

    net.setLink(planeHost, true);
    await waitFor(
      async () => (await nodesSeenFrom(listenerHost))?.some((n) => n.id === planeNode.id),
      "the plane to rejoin",
      30_000,
    );
  });
});
