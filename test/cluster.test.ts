/**
 * Several machines: three hosts with their own addresses (network
 * namespaces), each running its own nats-server of one NATS cluster.
 */
import { expect } from "chai";
import type { ChorusConfig } from "../actors/config.js";
import type { NodeView } from "../actors/presence.js";
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

  it("spawns on the plane's machine when the prime's is full, drops exactly that machine's nodes when its link is cut, and takes it back", async () => {
    on(listenerHost, ["broker"]);
    on(primeHost, ["up"], { maxLoad: 1 });
    on(planeHost, ["plane"], { maxLoad: 3 });
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

    const spawnOn = async (): Promise<NodeView> => {
      const proc = on(listenerHost, ["spawn", "auth", "--json"]);
      expect(await proc.exited, proc.output()).to.equal(0);
      return (JSON.parse(proc.output()) as NodeView[])[0] as NodeView;
    };
    const first = await spawnOn();
    const second = await spawnOn();
    expect(first.owner).to.equal(primeNode.id);
    expect(second.owner).to.equal(planeNode.id);
    expect(second.host).to.equal(planeNode.host);

    const cutAt = Date.now();
    net.setLink(planeHost, false);
    await waitFor(
      async () => {
        const ids = (await nodesSeenFrom(listenerHost))?.map((n) => n.id);
        return ids && !ids.includes(planeNode.id) && !ids.includes(second.id) && ids;
      },
      "the cut-off machine's nodes to be dropped",
      20_000,
    );
    const dropMs = Date.now() - cutAt;
    const left = (await nodesSeenFrom(listenerHost))?.map((n) => n.id).sort();
    expect(left).to.deep.equal([first.id, primeNode.id].sort());
    // 3 beats of 200 ms, plus the time a `chorus nodes` process takes to ask.
    expect(dropMs).to.be.below(3000);

    net.setLink(planeHost, true);
    await waitFor(
      async () => (await nodesSeenFrom(listenerHost))?.some((n) => n.id === planeNode.id),
      "the plane to rejoin",
      30_000,
    );
  });
});
