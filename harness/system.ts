/**
 * A real Chorus system for tests: a nats-server on a free port with a
 * temporary store and data folder, and `chorus` processes started from the
 * built binary. Everything started is stopped (by PID) in `cleanup()`, which
 * test files call from an `afterEach`/`after` hook so it runs on failure too.
 * Cleanup fails the suite when its broker exited on its own (a panic) or a
 * client of it is still connected once everything is stopped.
 */
import { logIn, type LoginOptions, type UserSession } from "../client/auth.js";
import { ClientIdentity } from "../client/identity.js";
import type { NatsConnection } from "@nats-io/transport-node";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultConfig, settings, type ChorusConfig } from "../actors/runtime/config.js";
import { connectBroker, type BrokerRole } from "../actors/runtime/connect.js";
import { listNodes } from "../client/registry.js";
import type { NodeView } from "../wire/presence.js";
import { startBroker, type Broker } from "../broker/server.js";
import { connectedClients, watchBroker } from "./broker-watch.js";
import { waitFor } from "./wait.js";

export const chorusBin = fileURLToPath(new URL("../../bin/chorus.js", import.meta.url));
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Test timing: beats fast enough that drops take about a second and a half,
 * slow enough that a process stalled for a second (a loaded 2-core CI box,
 * an argon2 flood, a dozen players in the test process) is not dropped.
 * Bounds in tests come from these numbers (`expiryMs`, `dropBoundMs`), never
 * from literals.
 */
export const testTiming = { heartbeatMs: 300, missedBeats: 5, idleMs: 60_000 };

type Timing = Pick<ChorusConfig, "heartbeatMs" | "missedBeats">;

/** How long a silent node or session lives: `missedBeats` beats. */
export function expiryMs(timing: Timing = testTiming): number {
  return timing.heartbeatMs * timing.missedBeats;
}

/**
 * The latest a silent node (or session) may be dropped after it fell
 * silent: its expiry, plus one beat (its last beat may be that old when it
 * stops, and sweeps run on the beat), plus three beats of slack for a loaded
 * machine. A drop that took 10 beats still fails.
 */
export function dropBoundMs(timing: Timing = testTiming): number {
  return timing.heartbeatMs * (timing.missedBeats + 4);
}

export interface ChorusProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export class TestSystem {
  readonly root = mkdtempSync(path.join(tmpdir(), "chorus-test-"));
  broker?: Broker;
  private readonly processes: ChorusProcess[] = [];
  private readonly connections: NatsConnection[] = [];
  private readonly identities: ClientIdentity[] = [];
  /** PIDs to kill at cleanup, with their start times (a reused PID is someone else). */
  private readonly extraPids = new Map<number, string>();
  /** What cleanup fails with: brokers that crashed. */
  private readonly crashes: string[] = [];

  /** A config whose data folder lives under this system's temporary root. */
  config(name = "prime", overrides: Partial<ChorusConfig> = {}): ChorusConfig {
    return {
      ...defaultConfig,
      ...testTiming,
      nats: this.broker?.url ?? defaultConfig.nats,
      data: path.join(this.root, name),
      music: path.join(this.root, name, "music"),
      actorPassword: "test-actor-secret",
      // No HTTP gateway unless a test asks for one (never `chorus up`'s port 4533).
      http: "off",
      ...overrides,
    };
  }

  /** A broker on `port` (-1: a free one), with extra nats-server `args`. */
  async startBroker(port = -1, args: string[] = []): Promise<Broker> {
    const broker = await startBroker({
      config: this.config("broker"),
      port,
      monitorPort: -1,
      storeDir: path.join(this.root, "broker-store"),
      args,
    });
    this.broker = watchBroker(broker, (crash) => this.crashes.push(crash));
    return this.broker;
  }

  async stopBroker(): Promise<void> {
    await this.broker?.stop();
  }

  async connect(role: BrokerRole = "actor"): Promise<NatsConnection> {
    const nc = await connectBroker(this.config(), role, `test-${role}`);
    this.connections.push(nc);
    return nc;
  }

  /**
   * Log a demo user in as a player does: with a broker identity of its own,
   * so `session.nc` has that session's rights (closed at cleanup).
   */
  async login(
    user = "Someone",
    password = "password123",
    options: Omit<LoginOptions, "identity"> = {},
  ): Promise<UserSession> {
    const session = await logIn(this.config(), `test-${user}`, user, password, options);
    this.connections.push(session.nc);
    return session;
  }

  /** A broker identity for a login made by hand (`UserSession.loginAt`); closed at cleanup. */
  identity(name = "test-client"): ClientIdentity {
    const identity = new ClientIdentity(this.config(), name);
    this.identities.push(identity);
    return identity;
  }

  /** Environment that makes a `chorus` process use this system's config. */
  env(config: ChorusConfig): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const { key, env: name } of settings) {
      const value = config[key];
      if (value === undefined) delete env[name];
      else env[name] = Array.isArray(value) ? value.join(",") : String(value);
    }
    return env;
  }

  /** Run `chorus ARGS` (or another node `program`) as a real process, inside a network namespace with `prefix`. */
  run(
    args: string[],
    config: ChorusConfig,
    extraEnv: NodeJS.ProcessEnv = {},
    prefix: string[] = [],
    program: string = chorusBin,
  ): ChorusProcess {
    const [cmd, ...cmdArgs] = [...prefix, process.execPath, program, ...args] as [
      string,
      ...string[],
    ];
    const child = spawn(cmd, cmdArgs, {
      env: { ...this.env(config), ...extraEnv },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | string>((resolve) =>
      child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)),
    );
    const proc: ChorusProcess = {
      child,
      output: () => out,
      exited,
      stop: async (signal = "SIGTERM") => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
    this.processes.push(proc);
    return proc;
  }

  /** Start a control node (`chorus prime` or `chorus plane`) and wait until the prime lists it. */
  async startControl(
    kind: "prime" | "plane",
    config: ChorusConfig,
  ): Promise<{ proc: ChorusProcess; id: string }> {
    const nc = await this.connect();
    const before = new Set((await this.nodesOrEmpty(nc)).map((n) => n.id));
    const proc = this.run([kind], config);
    const id = await waitFor(async () => {
      if (proc.child.exitCode !== null) throw new Error(`${kind} exited: ${proc.output()}`);
      if (kind === "prime") {
        const list = await this.nodesOrEmpty(nc);
        return list.find((n) => n.kind === "prime" && n.ageMs < 60_000)?.id;
      }
      return (await this.nodesOrEmpty(nc)).find((n) => n.kind === kind && !before.has(n.id))?.id;
    }, `${kind} to join`);
    return { proc, id };
  }

  async nodes(nc: NatsConnection): Promise<NodeView[]> {
    return listNodes(nc, 2000);
  }

  private async nodesOrEmpty(nc: NatsConnection): Promise<NodeView[]> {
    try {
      return await this.nodes(nc);
    } catch {
      return [];
    }
  }

  /** Remember a PID (a spawned node) so cleanup kills it if it outlives its owner. */
  track(pid: number): void {
    const started = processStart(pid);
    if (started !== undefined) this.extraPids.set(pid, started);
  }

  /** Everything the `chorus` processes printed, for a failed test's report. */
  outputs(): string {
    return this.processes
      .map((p) => `--- ${p.child.spawnargs.slice(-8).join(" ")}\n${p.output()}`)
      .join("\n");
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.connections.splice(0).map((nc) => nc.close().catch(() => undefined)));
    await Promise.all(this.identities.splice(0).map((identity) => identity.close()));
    // Ask first, so `chorus up`/`plane` stop the brokers and nodes they started;
    // then make sure, by PID and by our own temporary root.
    await Promise.all(this.processes.splice(0).map((p) => stopWithin(p, 5000)));
    for (const [pid, started] of this.extraPids) {
      if (processStart(pid) === started) process.kill(pid, "SIGKILL");
    }
    // Orphans a killed control node left serving (they would wait out their grace).
    killNodesUnder(this.root);
    const left = await this.stillConnected();
    await this.stopBroker();
    killStartedUnder(this.root);
    rmSync(this.root, { recursive: true, force: true });
    const problems = [...this.crashes.splice(0)];
    if (left.length) {
      problems.push(
        `still connected to the broker after cleanup: ${left.join(", ")} ` +
          "(a client the test did not close, which would reconnect forever)",
      );
    }
    if (problems.length) throw new Error(problems.join("\n"));
  }

  /** Who is still connected to our running broker once everything we started has stopped. */
  private async stillConnected(): Promise<string[]> {
    const broker = this.broker;
    if (!broker?.monitorUrl || broker.process.exitCode !== null || broker.process.signalCode) {
      return [];
    }
    // Every chorus process stops within 2 s (actors/runtime/shutdown.ts); more is slack.
    return connectedClients(broker.monitorUrl, 5000);
  }
}

/**
 * A process's start time (clock ticks after boot), or undefined when `pid`
 * is no process now (gone, or a thread's id: killing that kills its whole
 * process). A PID with another start time has been reused by someone else.
 */
function processStart(pid: number): string | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    if (/^Tgid:\s*(\d+)$/m.exec(status)?.[1] !== String(pid)) return undefined;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is the 3rd field of the line, starttime the 22nd.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

async function stopWithin(p: ChorusProcess, ms: number): Promise<void> {
  const timer = setTimeout(() => p.child.kill("SIGKILL"), ms);
  await p.stop("SIGTERM");
  clearTimeout(timer);
}

/** SIGKILL every spawned node whose configuration names `root` (this test's nodes only). */
function killNodesUnder(root: string): void {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, "utf8");
      if (env.includes("CHORUS_NODE_ID=") && env.includes(root))
        process.kill(Number(entry), "SIGKILL");
    } catch {
      // gone already
    }
  }
}

/** SIGKILL any process whose command line names `root` (brokers and nodes of this test only). */
function killStartedUnder(root: string): void {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes(root) && Number(entry) !== process.pid)
        process.kill(Number(entry), "SIGKILL");
    } catch {
      // gone already
    }
  }
}

/** Collect the permission violations the broker reports on a connection. */
export function violations(nc: NatsConnection): string[] {
  const seen: string[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === "error") seen.push(s.error.message);
  })();
  return seen;
}
