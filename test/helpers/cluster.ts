/**
 * Three machines for tests and benchmarks: network-namespace hosts, each
 * configured as the README's "Three machines" section tells — its own
 * broker; the prime's accepts routes, the others need only its address.
 */
import type { ChorusConfig } from "../../actors/config.js";
import type { NodeView } from "../../actors/presence.js";
import { TestNetwork, type TestHost } from "./netns.js";
import { TestSystem, type ChorusProcess } from "./system.js";

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
