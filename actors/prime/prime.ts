/**
 * The prime role: the registry of every node (from presence), the answer to
 * "which node should I use?", spawn placement — on its own machine while
 * under `maxLoad`, else on the plane with the most room — music sync and the
 * P2P host table. Every control node keeps the registry (so whoever takes
 * the role starts with it warm); only the holder of the prime lease
 * (actors/control/prime-lease.ts) serves the prime's subjects.
 */
import { safeJson } from "../../wire/codec.js";
import { at } from "../../wire/contract.js";
import type { ChorusConfig } from "../runtime/config.js";
import type { ControlNode } from "../control/control.js";
import { call } from "../runtime/endpoint.js";
import { ChorusError } from "../../wire/errors.js";
import { presenceSchema, type Presence, type SpawnableKind } from "../../wire/presence.js";
import {
  controlSpawn,
  nodeClaim,
  primeAssign,
  primeNodes,
  primeSpawn,
  type Assignment,
} from "../../wire/prime.js";
import { subjects } from "../../wire/subjects.js";
import { assignOrder, planesByRoom } from "./placement.js";
import { startPrimeSync } from "../sync/index.js";
import type { SyncAgent } from "../sync/agent.js";
import { HostTable } from "./hosts.js";
import { Registry } from "./registry.js";
import { sweepEvery as sweepTimer } from "../runtime/sweep.js";
import { sweepLeftovers } from "../control/leftovers.js";

export class Prime {
  readonly registry: Registry;
  private readonly locks = new Map<SpawnableKind, Promise<unknown>>();
  private serving = false;

  constructor(
    readonly control: ControlNode,
    private readonly agent: SyncAgent,
  ) {
    const log = this.control.actor.log;
    this.registry = new Registry(this.config.missedBeats, (change) => {
      if (!this.serving) return;
      const { node } = change;
      if (change.type === "added") {
        log.info("node joined", {
          id: node.id,
          kind: node.kind,
          owner: node.owner,
          host: node.host,
        });
      } else {
        log.info("node dropped", { id: node.id, kind: node.kind, reason: change.reason });
      }
    });
  }

  get actor() {
    return this.control.actor;
  }

  get config(): ChorusConfig {
    return this.control.actor.config;
  }

  /** Follow every node's presence, holding the role or not. */
  watch(): void {
    const actor = this.actor;
    this.registry.see(actor.presence());
    const presenceSub = actor.nc.subscribe(subjects.presenceAll, {
      callback: (err, msg) => {
        if (err) return;
        const parsed = presenceSchema.safeParse(safeJson(msg.data));
        if (!parsed.success) {
          actor.log.debug("ignored malformed presence", { subject: msg.subject });
          return;
        }
        if (msg.subject !== subjects.presence(parsed.data.kind, parsed.data.id)) return;
        this.registry.see(parsed.data);
      },
    });
    const sweepEvery = Math.max(20, Math.floor(this.config.heartbeatMs / 4));
    const stopSweeping = sweepTimer(sweepEvery, () => this.registry.sweep());
    actor.onStop(() => {
      stopSweeping();
      presenceSub.unsubscribe();
    });
  }

  /**
   * Serve the prime's subjects until the returned function is called.
   * `previous`, the control node that held the role before, is dropped with
   * its nodes (orphans among them stay and are adopted: actors/control/adopt.ts;
   * a live one comes back with its next beat).
   */
  serve(previous?: string): () => Promise<void> {
    const actor = this.actor;
    this.serving = true;
    if (previous && previous !== actor.id) this.registry.drop(previous, "lost the prime role");
    this.registry.see(actor.presence());
    const served = [
      actor.serve(at(primeNodes), ({ offset, limit }) =>
        this.registry.list().slice(offset, offset + limit),
      ),
      actor.serve(at(primeSpawn), async (req) => this.registry.view(await this.place(req.kind))),
      actor.serve(at(primeAssign), (req) => this.assign(req.kind)),
    ];
    const coordinator = startPrimeSync(this, this.agent);
    const stopSweepingLeftovers = sweepLeftovers(actor, this.registry);
    const hosts = new HostTable(actor);
    // The host table needs JetStream, which a cluster elects only once its
    // brokers see each other: the prime serves meanwhile, and retries.
    void this.retryUntilStarted("P2P host table", () => hosts.start());
    return async () => {
      this.serving = false;
      stopSweepingLeftovers();
      for (const sub of served) sub.unsubscribe();
      hosts.stop();
      await coordinator.stop();
    };
  }

  private async retryUntilStarted(what: string, start: () => Promise<void>): Promise<void> {
    for (let attempt = 1; this.serving && !this.actor.isStopping(); attempt++) {
      try {
        await start();
        return;
      } catch (err) {
        this.actor.log.warn(`cannot start the ${what} yet; retrying`, {
          attempt,
          error: String(err),
        });
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 500 * attempt)));
      }
    }
  }

  /** Spawn a node of `kind` where there is room; NO_ROOM when nowhere has any. */
  async place(kind: SpawnableKind): Promise<Presence> {
    let presence: Presence | undefined;
    if (this.control.hasRoom()) {
      presence = await this.control.spawnLocal(kind);
    } else {
      for (const plane of planesByRoom(this.registry.ofKind("plane"))) {
        try {
          presence = await call(this.actor.nc, at(controlSpawn, plane.id), { kind }, 20_000);
          break;
        } catch (err) {
          this.actor.log.warn("plane could not spawn", { plane: plane.id, error: String(err) });
        }
      }
    }
    if (!presence) {
      throw new ChorusError("NO_ROOM", `no control node has room for another ${kind} node`);
    }
    this.registry.see(presence);
    return presence;
  }

  /**
   * Send a client to a node of `kind` with room: claim a slot at each known
   * node in turn, spawning a new node when none has room. One assignment per
   * kind at a time, so concurrent clients cannot overfill or overspawn.
   */
  assign(kind: SpawnableKind): Promise<Assignment> {
    const previous = this.locks.get(kind) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.assignNow(kind));
    this.locks.set(kind, next);
    return next;
  }

  private async assignNow(kind: SpawnableKind): Promise<Assignment> {
    for (const node of assignOrder(this.registry.ofKind(kind))) {
      const claim = await this.tryClaim(node);
      if (claim) return { node: this.registry.view(node), claim };
    }
    const fresh = await this.place(kind);
    const claim = await this.tryClaim(fresh);
    if (!claim) throw new ChorusError("NO_ROOM", `new ${kind} node ${fresh.id} refused a client`);
    return { node: this.registry.view(fresh), claim };
  }

  private async tryClaim(node: Presence): Promise<string | undefined> {
    try {
      const { claim } = await call(this.actor.nc, at(nodeClaim, node.id), {}, 1000);
      return claim;
    } catch (err) {
      this.actor.log.debug("claim refused", { node: node.id, error: String(err) });
      return undefined;
    }
  }
}
