/**
 * What the prime and every plane share: a control node that runs actors on
 * its own machine, at most `maxLoad` of them, and stops them when it stops.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { Actor } from "../runtime/actor.js";
import type { ChorusConfig } from "../runtime/config.js";
import { ChorusError } from "../../wire/errors.js";
import type { Presence } from "../../wire/presence.js";
import { spawnActor } from "./spawn.js";
import { releaseAudioStream } from "./leftovers.js";
import { at } from "../../wire/contract.js";
import type { SpawnableKind } from "../../wire/presence.js";
import { controlSpawn } from "../../wire/prime.js";

/** A stopping child gets this long before SIGKILL (inside the 2 s every chorus process has). */
const childStopGraceMs = 900;

export class ControlNode {
  readonly actor: Actor;
  private readonly children = new Map<string, ChildProcess>();
  /** Nodes of this machine it adopted (actors/control/adopt.ts): id → PID. */
  private readonly adopted = new Map<string, number>();
  private pending = 0;
  private gateway?: ChildProcess;
  private gatewayRetry?: NodeJS.Timeout;

  constructor(config: ChorusConfig, kind: "prime" | "plane") {
    this.actor = new Actor({ config, kind, capacity: config.maxLoad });
    this.actor.setLoad(() => this.children.size + this.adopted.size + this.pending);
  }

  /** A node of this machine now ours: it counts toward `maxLoad` and stops when we stop. */
  adoptedHere(id: string, pid: number): void {
    this.adopted.set(id, pid);
    this.actor.beat();
  }

  /** Forget adopted nodes that are gone or owned by someone else now. */
  forgetAdopted(stillOurs: (id: string) => boolean): void {
    for (const id of this.adopted.keys()) if (!stillOurs(id)) this.adopted.delete(id);
  }

  async start(): Promise<void> {
    await this.actor.start();
    this.actor.serve(at(controlSpawn, this.actor.id), (req) => this.spawnLocal(req.kind));
    // Hooks run last first: the machine's audio stream goes once its nodes have stopped.
    this.actor.onStop(() => this.releaseAudio());
    this.actor.onStop(() => this.stopChildren());
    this.actor.onStop(() => clearTimeout(this.gatewayRetry));
  }

  /**
   * Run this machine's HTTP gateway (config `http`) as a child like any
   * node, outside `maxLoad` (it is not placed by the prime). One that fails
   * or exits on its own is started again after a pause that doubles up to a
   * minute: the rest of the system works meanwhile, and a taken port is
   * logged, not fatal.
   */
  async startGateway(retryMs = 1000): Promise<void> {
    const { http } = this.actor.config;
    if (!http || http === "off" || this.actor.isStopping()) return;
    const again = (): void => {
      if (this.actor.isStopping()) return;
      clearTimeout(this.gatewayRetry);
      this.gatewayRetry = setTimeout(
        () => void this.startGateway(Math.min(60_000, retryMs * 2)),
        retryMs,
      );
      this.gatewayRetry.unref();
    };
    try {
      const startedAt = Date.now();
      const { presence, child } = await spawnActor(
        this.actor.nc,
        this.actor.config,
        "gateway",
        this.actor.id,
      );
      this.gateway = child;
      child.once("exit", (code, signal) => {
        this.gateway = undefined;
        if (this.actor.isStopping()) return;
        this.actor.log.warn("gateway exited; starting it again", { id: presence.id, code, signal });
        // One that ran a while starts again at once-ish; one that keeps dying backs off.
        if (Date.now() - startedAt > 60_000) retryMs = 1000;
        again();
      });
      this.actor.log.info("gateway started", { id: presence.id, http });
    } catch (err) {
      this.actor.log.error("cannot start the HTTP gateway", { http, error: String(err) });
      again();
    }
  }

  /** Whether another control node runs on this machine (it keeps the audio stream). */
  sharesMachine: () => boolean = () => false;

  private async releaseAudio(): Promise<void> {
    if (this.sharesMachine()) return;
    if (await releaseAudioStream(this.actor.nc, this.actor.host)) {
      this.actor.log.info("released this machine's audio stream");
    }
  }

  hasRoom(): boolean {
    return this.actor.load() < this.actor.capacity;
  }

  /** Spawn on this machine; NO_ROOM when `maxLoad` actors already run here. */
  async spawnLocal(kind: SpawnableKind): Promise<Presence> {
    if (this.actor.isStopping()) throw new ChorusError("UNAVAILABLE", "control node is stopping");
    if (!this.hasRoom()) {
      throw new ChorusError(
        "NO_ROOM",
        `${this.actor.id} already runs ${this.actor.capacity} nodes`,
      );
    }
    this.pending++;
    try {
      const { presence, child } = await spawnActor(
        this.actor.nc,
        this.actor.config,
        kind,
        this.actor.id,
      );
      this.children.set(presence.id, child);
      child.once("exit", (code, signal) => {
        this.children.delete(presence.id);
        this.actor.log.info("node exited", { id: presence.id, code, signal });
        this.actor.beat();
      });
      this.actor.log.info("spawned", { id: presence.id, kind, pid: presence.pid });
      return presence;
    } finally {
      this.pending--;
      this.actor.beat();
    }
  }

  /** SIGTERM every child, SIGKILL those still running after a grace period. */
  private async stopChildren(): Promise<void> {
    const all = [...this.children.values(), ...(this.gateway ? [this.gateway] : [])];
    const exits = all.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const kill = setTimeout(() => child.kill("SIGKILL"), childStopGraceMs);
          child.once("exit", () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill("SIGTERM");
        }),
    );
    // Adopted nodes see our "stopping" beat and stop themselves; make sure, by PID.
    const adopted = [...this.adopted].map(([id, pid]) => stopAdopted(id, pid));
    await Promise.all([...exits, ...adopted]);
  }
}

/** SIGTERM an adopted node (only while that PID is still that node), SIGKILL it after the grace. */
async function stopAdopted(id: string, pid: number): Promise<void> {
  const isThatNode = (): boolean => {
    try {
      return readFileSync(`/proc/${pid}/environ`, "utf8")
        .split("\0")
        .includes(`CHORUS_NODE_ID=${id}`);
    } catch {
      return false;
    }
  };
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(pid, name);
    } catch {
      // gone already
    }
  };
  if (!isThatNode()) return;
  signal("SIGTERM");
  const deadline = Date.now() + childStopGraceMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    if (!isThatNode()) return;
  }
  signal("SIGKILL");
}
