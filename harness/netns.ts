/**
 * Test hosts with their own IP addresses, built from Linux network namespaces:
 * one "switch" namespace holding a bridge, and one namespace per host joined
 * to it by a veth pair. Nothing is added to the machine's own namespace, and
 * `destroy()` deletes every namespace (and so every veth) it made.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Why namespaces can't be used here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "network namespaces need root";
  const probe = `chorus-probe-${randomBytes(3).toString("hex")}`;
  try {
    ip("netns", "add", probe);
    ip("netns", "del", probe);
    return undefined;
  } catch (err) {
    return `ip netns is unavailable: ${String(err).split("\n")[0]}`;
  }
}

export interface TestHost {
  name: string;
  /** The namespace's name, for `ip netns exec`. */
  ns: string;
  address: string;
  /** The host's link on the switch side: down cuts the host off the network. */
  port: string;
}

export class TestNetwork {
  private readonly tag = randomBytes(3).toString("hex");
  private readonly switchNs = `chorus-${this.tag}-sw`;
  readonly hosts: TestHost[] = [];

  constructor(private readonly subnet = "10.250.0") {
    ip("netns", "add", this.switchNs);
    ip("-n", this.switchNs, "link", "set", "lo", "up");
    ip("-n", this.switchNs, "link", "add", "br0", "type", "bridge");
    ip("-n", this.switchNs, "link", "set", "br0", "up");
  }

  addHost(name: string): TestHost {
    const index = this.hosts.length + 1;
    const ns = `chorus-${this.tag}-${name}`;
    const port = `p${index}`;
    const address = `${this.subnet}.${index}`;
    ip("netns", "add", ns);
    ip("-n", ns, "link", "set", "lo", "up");
    // Create the pair inside the host, then move one end to the switch.
    ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port);
    ip("-n", ns, "link", "set", port, "netns", this.switchNs);
    ip("-n", ns, "addr", "add", `${address}/24`, "dev", "eth0");
    ip("-n", ns, "link", "set", "eth0", "up");
    ip("-n", this.switchNs, "link", "set", port, "master", "br0");
    ip("-n", this.switchNs, "link", "set", port, "up");
    const host = { name, ns, address, port };
    this.hosts.push(host);
    return host;
  }

  /** Cut a host off the network (its processes keep running) or bring it back. */
  setLink(host: TestHost, up: boolean): void {
    ip("-n", this.switchNs, "link", "set", host.port, up ? "up" : "down");
  }

  /** Add latency to every packet a host sends (tc netem); 0 removes it. */
  setDelay(host: TestHost, ms: number): void {
    const tc = ["netns", "exec", host.ns, "tc", "qdisc"];
    if (ms > 0) {
      execFileSync("ip", [...tc, "replace", "dev", "eth0", "root", "netem", "delay", `${ms}ms`]);
    } else {
      execFileSync("ip", [...tc, "del", "dev", "eth0", "root"]);
    }
  }

  /** The command prefix that runs a program inside a host. */
  exec(host: TestHost): string[] {
    return ["ip", "netns", "exec", host.ns];
  }

  destroy(): void {
    for (const ns of [...this.hosts.map((h) => h.ns), this.switchNs]) {
      try {
        ip("netns", "del", ns);
      } catch {
        // Already gone.
      }
    }
  }
}
