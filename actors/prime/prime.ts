/**
 * The prime control node: the registry of every node (from presence), the
 * answer to "which node should I use?", and spawn placement — on its own
 * machine while under `maxLoad`, else on the plane with the most room.
 */
import { safeJson } from "../../wire/codec.js";
import { at } from "../../wire/contract.js";
import type { ChorusConfig } from "../runtime/config.js";
import { ControlNode } from "../control/control.js";
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
import { HostTable } from "./hosts.js";
import { Registry } from "./registry.js";
import { sweepEvery as sweepTimer } from "../runtime/sweep.js";

export class Prime {
  readonly control: ControlNode;
  readonly registry: Registry;
  private readonly locks = new Map<SpawnableKind, Promise<unknown>>();

  constructor(readonly config: ChorusConfig) {
    this.control = new ControlNode(config, "prime");
    const log = this.control.actor.log;
    this.registry = new Registry(config.missedBeats, (change) => {
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

  async start(): Promise<void> {
    await this.control.start();
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
    actor.serve(at(primeNodes), ({ offset, limit }) =>
      this.registry.list().slice(offset, offset + limit),
    );
    actor.serve(at(primeSpawn), async (req) => this.registry.view(await this.place(req.kind)));
    actor.serve(at(primeAssign), (req) => this.assign(req.kind));
    await startPrimeSync(this);
    await actor.announce();
    // The host table needs JetStream, which a cluster elects only once its
    // brokers see each other: the prime is up meanwhile, and retries.
    void this.retryUntilStarted("P2P host table", () => new HostTable(actor).start());
  }

  private async retryUntilStarted(what: string, start: () => Promise<void>): Promise<void> {
    for (let attempt = 1; !this.actor.isStopping(); attempt++) {
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
