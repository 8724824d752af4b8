/**
 * Three machines for tests and benchmarks: network-namespace hosts, each
 * configured as the README's "Three machines" section tells — its own
 * broker; the prime's accepts routes, the others need only its address.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { connectBroker, type BrokerRole } from "../actors/runtime/connect.js";
import type { NodeView } from "../wire/presence.js";
import { listNodes } from "../client/registry.js";
import { TestNetwork, type TestHost } from "./netns.js";
import { freePort } from "./ports.js";
import { TestSystem, type ChorusProcess } from "./system.js";
import { waitFor } from "./wait.js";

export class ThreeMachines {
  readonly sys = new TestSystem();
  readonly net = new TestNetwork();
  readonly prime: TestHost = this.net.addHost("prime");
  readonly plane: TestHost = this.net.addHost("plane");
  readonly listener: TestHost = this.net.addHost("listener");

  config(host: TestHost, overrides: Partial<ChorusConfig> = {}): ChorusConfig {
    return this.sys.config(host.name, {
      nats: `nats://${host.address}:4222`,
      peers: host === this.prime ? [] : [`${this.prime.address}:6222`],
      clusterListen: `${host.address}:6222`,
      monitorPort: 0,
      ...overrides,
    });
  }

  /** Run `chorus ARGS` on a host. */
  on(
    host: TestHost,
    args: string[],
    overrides: Partial<ChorusConfig> = {},
    env: NodeJS.ProcessEnv = {},
  ): ChorusProcess {
    return this.sys.run(args, this.config(host, overrides), env, this.net.exec(host));
  }

  /** Run another node program (a benchmark probe) on a host with its config. */
  runScript(host: TestHost, script: string, args: string[]): ChorusProcess {
    return this.sys.run(args, this.config(host), {}, this.net.exec(host), script);
  }

  /** `chorus play` from the listener's host as one of the demo users. */
  listen(user: string, args: string[]): ChorusProcess {
    return this.on(
      this.listener,
      ["play", ...args, "--user", user],
      {},
      {
        CHORUS_PASSWORD: "password123",
      },
    );
  }

  async nodesSeenFrom(host: TestHost): Promise<NodeView[] | undefined> {
    const proc = this.on(host, ["nodes", "--json"]);
    if ((await proc.exited) !== 0) return undefined;
    return JSON.parse(proc.output()) as NodeView[];
  }

  async destroy(): Promise<void> {
    await this.sys.cleanup();
    this.net.destroy();
  }
}

export type LoopbackMachine = "a" | "b" | "c";

/**
 * Three machines on one loopback interface, no root needed: three routed
 * nats-server brokers on 127.0.0.1 (their own client and cluster ports),
 * each machine with its own data folder and host id (`machine-a` …). As in
 * the README: A runs `chorus up` (its broker accepts routes), B `chorus
 * plane --peers A` (which starts B's broker), C `chorus broker --peers A`.
 */
export class LoopbackMachines {
  readonly sys = new TestSystem();
  private readonly connections: NatsConnection[] = [];

  private constructor(
    private readonly ports: Record<LoopbackMachine, { client: number; cluster: number }>,
    private readonly defaults: Partial<ChorusConfig>,
  ) {}

  /** Three machines; `defaults` go into every machine's config (e.g. `tls: "on"`). */
  static async create(defaults: Partial<ChorusConfig> = {}): Promise<LoopbackMachines> {
    const ports = {} as Record<LoopbackMachine, { client: number; cluster: number }>;
    const taken = new Set<number>();
    const fresh = async (): Promise<number> => {
      for (;;) {
        const port = await freePort();
        if (!taken.has(port)) {
          taken.add(port);
          return port;
        }
      }
    };
    for (const m of ["a", "b", "c"] as const) {
      ports[m] = { client: await fresh(), cluster: await fresh() };
    }
    return new LoopbackMachines(ports, defaults);
  }

  /** A machine's client and cluster ports on 127.0.0.1. */
  portsOf(machine: LoopbackMachine): { client: number; cluster: number } {
    return this.ports[machine];
  }

  hostId(machine: LoopbackMachine): string {
    return `machine-${machine}`;
  }

  config(machine: LoopbackMachine, overrides: Partial<ChorusConfig> = {}): ChorusConfig {
    const { client, cluster } = this.ports[machine];
    return this.sys.config(this.hostId(machine), {
      nats: `nats://127.0.0.1:${client}`,
      hostId: this.hostId(machine),
      clusterListen: `127.0.0.1:${cluster}`,
      peers: machine === "a" ? [] : [`127.0.0.1:${this.ports.a.cluster}`],
      monitorPort: 0,
      ...this.defaults,
      ...overrides,
    });
  }

  /** Run `chorus ARGS` on a machine. */
  on(
    machine: LoopbackMachine,
    args: string[],
    overrides: Partial<ChorusConfig> = {},
    env: NodeJS.ProcessEnv = {},
  ): ChorusProcess {
    return this.sys.run(args, this.config(machine, overrides), env);
  }

  /** A connection of the test process to a machine's broker. */
  async connect(machine: LoopbackMachine, role: BrokerRole = "actor"): Promise<NatsConnection> {
    const nc = await connectBroker(this.config(machine), role, `test-${machine}-${role}`);
    this.connections.push(nc);
    return nc;
  }

  /**
   * Start the three machines (prime on A, plane on B, a bare broker on C) and
   * wait until C's broker lists both control nodes.
   */
  async start(
    limits: { prime?: Partial<ChorusConfig>; plane?: Partial<ChorusConfig> } = {},
  ): Promise<{ prime: ChorusProcess; plane: ChorusProcess; primeId: string; planeId: string }> {
    const prime = this.on("a", ["up"], limits.prime);
    const plane = this.on("b", ["plane"], limits.plane);
    const broker = this.on("c", ["broker"]);
    const nc = await waitFor(() => {
      if (broker.child.exitCode !== null) throw new Error(`broker exited: ${broker.output()}`);
      return this.connect("c");
    }, "machine C's broker to accept connections");
    const list = await waitFor(
      async () => {
        for (const p of [prime, plane]) {
          if (p.child.exitCode !== null) throw new Error(`exited: ${p.output()}`);
        }
        const nodes = await listNodes(nc, 1000);
        return nodes.some((n) => n.kind === "prime") && nodes.some((n) => n.kind === "plane")
          ? nodes
          : undefined;
      },
      "prime and plane to be listed from machine C",
      30_000,
    );
    const primeId = list.find((n) => n.kind === "prime")?.id as string;
    const planeId = list.find((n) => n.kind === "plane")?.id as string;
    return { prime, plane, primeId, planeId };
  }

  async destroy(): Promise<void> {
    await Promise.all(this.connections.splice(0).map((nc) => nc.close().catch(() => undefined)));
    await this.sys.cleanup();
  }
}
