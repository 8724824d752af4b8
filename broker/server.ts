/**
 * Starting and stopping nats-server with broker/nats.conf. `chorus broker`,
 * `chorus up` and the tests all use this. The port comes from the broker URL
 * (or -1: the server picks a free one, and we read it from its ports file).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ChorusConfig } from "../actors/config.js";
import { connectBroker, serversOf } from "../actors/connect.js";
import { ChorusError } from "../actors/errors.js";
import { actorPasswordOf } from "../actors/identity.js";

export const natsConfPath = fileURLToPath(new URL("../../broker/nats.conf", import.meta.url));

export interface BrokerOptions {
  config: ChorusConfig;
  /** Client port; default: the broker URL's port. -1 picks a free one. */
  port?: number;
  /** Monitoring port on loopback; default from the config, -1 picks a free one, 0 turns it off. */
  monitorPort?: number;
  /** JetStream store; default `<data>/broker`. */
  storeDir?: string;
  /** Where the server's own log goes; default: discarded. */
  stdio?: "inherit" | "ignore";
  /** Extra nats-server arguments. */
  args?: string[];
}

export interface Broker {
  url: string;
  port: number;
  monitorUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

function listenAddress(config: ChorusConfig): { host: string; port: number } {
  const first = serversOf(config)[0] ?? "nats://127.0.0.1:4222";
  const url = new URL(first.includes("://") ? first : `nats://${first}`);
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 4222) };
}

export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const { config } = options;
  const listen = listenAddress(config);
  const port = options.port ?? listen.port;
  const storeDir = options.storeDir ?? path.join(config.data, "broker");
  mkdirSync(storeDir, { recursive: true });
  const portsDir = mkdtempSync(path.join(tmpdir(), "chorus-ports-"));
  const args = [
    "-c",
    natsConfPath,
    "-a",
    listen.host,
    "-p",
    String(port),
    "-m",
    String(options.monitorPort ?? config.monitorPort),
    "-sd",
    storeDir,
    "--ports_file_dir",
    portsDir,
    ...(options.args ?? []),
  ];
  const child = spawn("nats-server", args, {
    env: {
      ...process.env,
      CHORUS_ACTOR_PASSWORD: actorPasswordOf(config),
      CHORUS_LISTENER_PASSWORD: config.listenerPassword,
    },
    stdio: ["ignore", options.stdio ?? "ignore", options.stdio ?? "ignore"],
    // Its own process group: a terminal's Ctrl-C reaches only us, and we stop
    // the broker after the nodes that use it.
    detached: true,
  });
  const exited = new Promise<never>((_, reject) => {
    child.once("error", (err) =>
      reject(new ChorusError("UNAVAILABLE", `cannot run nats-server: ${err.message}`)),
    );
    child.once("exit", (code) =>
      reject(
        new ChorusError(
          "UNAVAILABLE",
          `nats-server exited at start (code ${code}); is port ${port} free?`,
        ),
      ),
    );
  });
  exited.catch(() => undefined);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(kill);
    }
    rmSync(portsDir, { recursive: true, force: true });
  };
  try {
    const ports = await Promise.race([readPorts(portsDir, child.pid), exited]);
    const clientPort = Number(new URL(ports.nats[0] ?? "").port);
    const monitor = ports.monitoring?.[0];
    const url = `nats://${listen.host.includes(":") ? `[${listen.host}]` : listen.host}:${clientPort}`;
    return { url, port: clientPort, monitorUrl: monitor, process: child, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface PortsFile {
  nats: string[];
  monitoring?: string[];
}

async function readPorts(dir: string, pid: number | undefined): Promise<PortsFile> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const file = readdirSync(dir).find((f) => f.endsWith(`_${pid}.ports`));
    if (file) {
      try {
        return JSON.parse(readFileSync(path.join(dir, file), "utf8")) as PortsFile;
      } catch {
        // Still being written; try again.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new ChorusError("TIMEOUT", "nats-server did not start within 10 s");
}

/** Is a broker already answering at the configured URL? */
export async function brokerReachable(config: ChorusConfig): Promise<boolean> {
  try {
    const nc = await connectBroker(config, "listener", "chorus-probe", undefined, {
      reconnect: false,
      timeoutMs: 1000,
    });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

export function natsServerInstalled(): boolean {
  return (process.env.PATH ?? "")
    .split(path.delimiter)
    .some((dir) => existsSync(path.join(dir, "nats-server")));
}
