/** `chorus up`, `chorus broker`, `chorus prime`, `chorus plane`: run pieces on this machine. */
import path from "node:path";
import {
  defaultConfig,
  defaultHttp,
  loadConfig,
  type ChorusConfig,
} from "../../actors/runtime/config.js";
import { createLogger } from "../../actors/runtime/log.js";
import { Plane } from "../../actors/plane/plane.js";
import { findChorusBroker } from "../../actors/runtime/broker-check.js";
import { startBroker, type Broker } from "../../broker/server.js";
import type { Command, FlagValues } from "../command.js";

const log = createLogger("chorus");

/** Resolves when SIGINT, SIGTERM or SIGHUP arrives. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
    // A closed terminal: stop what we started rather than orphan the broker.
    process.once("SIGHUP", resolve);
  });
}

async function runBroker(config: ChorusConfig): Promise<Broker> {
  const logFile = path.join(config.data, "nats-server.log");
  const broker = await startBroker({ config, args: ["-l", logFile] });
  log.info("broker started", { url: broker.url, monitor: broker.monitorUrl, log: logFile });
  return broker;
}

/**
 * Run a control node in the foreground until a signal or its own stop.
 * `signal` is created before anything starts, so an early Ctrl-C is not lost.
 */
async function runControl(
  node: Plane,
  signal: Promise<NodeJS.Signals>,
  broker?: Broker,
  ready?: () => void,
): Promise<number> {
  const stopBroker = async (): Promise<void> => {
    if (broker) {
      await broker.stop();
      log.info("broker stopped");
    }
  };
  try {
    await node.start();
  } catch (err) {
    await node.actor.stop("failed to start");
    await stopBroker();
    throw err;
  }
  ready?.();
  await Promise.race([signal.then((s) => node.actor.stop(s)), node.actor.whenStopped()]);
  await node.actor.stop("done");
  await stopBroker();
  return 0;
}

/** What a newcomer does once `chorus up` runs (with the broker URL when it is not the default). */
function nextSteps(config: ChorusConfig): void {
  const nats = config.nats === defaultConfig.nats ? "" : ` --nats ${config.nats}`;
  const line = (command: string, what: string): string =>
    `  ${`node bin/chorus.js ${command}${nats}`.padEnd(48 + nats.length)} # ${what}`;
  process.stderr.write(
    [
      "",
      "Chorus is up. In another terminal:",
      line("player", "log in (Someone / password123) and listen"),
      line("songs --user Someone", "the catalogue"),
      line("nodes", "the registry"),
      ...(config.http && config.http !== "off"
        ? [`  Subsonic apps: http://${config.http}/ (user and password, or an API key)`]
        : []),
      "Ctrl-C here stops everything chorus up started.",
      "",
    ].join("\n") + "\n",
  );
}

export const up: Command = {
  name: "up",
  summary: "start the broker (unless one is reachable) and the prime; Ctrl-C stops both",
  usage: `Usage: chorus up [options]

Starts nats-server with broker/nats.conf (store under the data folder, log in
DATA/nats-server.log) unless a broker already answers at --nats, then the prime
control node in the foreground, and the HTTP gateway (the OpenSubsonic API) on
--http HOST:PORT (default ${defaultHttp}; --http off runs none). Ctrl-C stops
everything it started.`,
  async run(flags: FlagValues) {
    const signal = untilSignal();
    const loaded = loadConfig(flags);
    // `chorus up` serves the OpenSubsonic API unless told `--http off`.
    const config = { ...loaded, http: loaded.http || defaultHttp };
    const broker = (await findChorusBroker(config)) ? undefined : await runBroker(config);
    if (!broker) log.info("using the Chorus broker already running", { url: config.nats });
    return runControl(new Plane(config, "prime"), signal, broker, () => nextSteps(config));
  },
};

export const broker: Command = {
  name: "broker",
  summary: "start only the NATS broker on this machine",
  usage: `Usage: chorus broker [options]

Runs nats-server with broker/nats.conf, listening on the host and port of --nats.`,
  async run(flags: FlagValues) {
    const signal = untilSignal();
    const running = await runBroker(loadConfig(flags));
    await signal;
    await running.stop();
    return 0;
  },
};

export const prime: Command = {
  name: "prime",
  summary: "start only the prime control node (the broker must be running)",
  usage: "Usage: chorus prime [options]",
  async run(flags: FlagValues) {
    return runControl(new Plane(loadConfig(flags), "prime"), untilSignal());
  },
};

export const plane: Command = {
  name: "plane",
  summary: "start a plane control node that joins the prime's broker",
  usage: `Usage: chorus plane --nats nats://PRIME-MACHINE:4222 [options]
       chorus plane --peers PRIME-MACHINE:6222 [options]

Joins the control plane, spawns nodes on this machine when the prime asks
(at most --max-load), and stops them when it stops. With --peers, it first
starts this machine's own broker (listening on --nats, default 127.0.0.1:4222)
joined to the other machines' brokers as a NATS cluster.`,
  async run(flags: FlagValues) {
    const signal = untilSignal();
    const config = loadConfig(flags);
    // With peers, this machine runs its own broker joined to theirs.
    const clustered =
      (config.peers.length > 0 || config.clusterListen !== "") && !(await findChorusBroker(config));
    const broker = clustered ? await runBroker(config) : undefined;
    return runControl(new Plane(config), signal, broker);
  },
};
