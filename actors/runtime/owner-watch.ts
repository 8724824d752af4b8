/**
 * A node's tie to its control node (its owner). When the owner stops on its
 * own machine, the node stops with it: Ctrl-C on `chorus up` stops that
 * machine's nodes. When the owner's process dies instead — the IPC channel
 * closes, or its beats stop while our own connection is up — the node is an
 * orphan: it keeps its sessions and streams, says so in its beats, and waits
 * `orphanGraceMs` for a control node to adopt it (actors/control/adopt.ts).
 * Nobody adopts it in that time: it stops.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { safeJson } from "../../wire/codec.js";
import { presenceSchema } from "../../wire/presence.js";
import { subjects } from "../../wire/subjects.js";
import type { ChorusConfig } from "./config.js";
import type { Logger } from "./log.js";
import { sweepEvery } from "./sweep.js";

export interface OwnerWatchHost {
  readonly nc: NatsConnection;
  readonly config: ChorusConfig;
  readonly log: Logger;
  /** This node's machine. */
  readonly host: string;
  beat(): void;
  stop(reason: string): Promise<void>;
}

export class OwnerWatch {
  private ownerId: string;
  /** The owner's machine: a spawning control node's is our own. */
  private ownerHost: string;
  private since?: number;
  private lastSeen = Date.now();
  private ownerInterval: number;
  private connected = true;
  private sub?: Subscription;
  private readonly stops: Array<() => void> = [];

  constructor(
    private readonly node: OwnerWatchHost,
    owner: string,
    /** False for a node its machine's control node starts anew (the gateway, on its port). */
    private readonly orphanable = true,
  ) {
    this.ownerId = owner;
    this.ownerHost = node.host;
    this.ownerInterval = node.config.heartbeatMs;
  }

  get owner(): string {
    return this.ownerId;
  }

  /** When the node became an orphan; undefined while it has an owner. */
  get orphanSince(): number | undefined {
    return this.since;
  }

  start(): void {
    this.follow(this.ownerId);
    // While our own broker connection is down no beat can reach us: that silence proves
    // nothing (a broker restart would orphan every node), so it counts from our reconnect.
    void (async () => {
      for await (const s of this.node.nc.status()) {
        if (s.type === "disconnect") this.connected = false;
        if (s.type === "reconnect") {
          this.connected = true;
          this.lastSeen = Date.now();
        }
      }
    })().catch(() => undefined);
    // Checked after waiting input is read: after our own stall the owner's beats are still unread.
    this.stops.push(sweepEvery(this.node.config.heartbeatMs, () => this.check()));
    // A spawned node's control node is its parent: the IPC channel closes the moment it dies.
    const parent = this.ownerId;
    const onDisconnect = (): void => {
      if (this.ownerId === parent) this.orphaned("owner process gone");
    };
    process.once("disconnect", onDisconnect);
    this.stops.push(() => process.off("disconnect", onDisconnect));
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.sub?.unsubscribe();
  }

  /**
   * A control node on `host` offers to own us. Taken when we are an orphan,
   * or when it runs on our machine and our owner does not (a machine's own
   * control node, back after a crash, takes its nodes back from the prime).
   * Answers the owner we have afterwards.
   */
  adopt(owner: string, host: string): { owner: string } {
    const takesBack = host === this.node.host && this.ownerHost !== this.node.host;
    if (owner === this.ownerId || (this.since === undefined && !takesBack)) {
      return { owner: this.ownerId };
    }
    this.node.log.info("adopted", { owner, host, was: this.ownerId });
    this.ownerId = owner;
    this.ownerHost = host;
    this.since = undefined;
    this.lastSeen = Date.now();
    this.ownerInterval = this.node.config.heartbeatMs;
    this.follow(owner);
    this.node.beat();
    return { owner };
  }

  private follow(owner: string): void {
    this.sub?.unsubscribe();
    this.sub = this.node.nc.subscribe(subjects.presenceOf(owner), {
      callback: (err, msg) => {
        if (err || owner !== this.ownerId) return;
        const parsed = presenceSchema.safeParse(safeJson(msg.data));
        if (!parsed.success) return;
        if (parsed.data.status === "stopping") {
          // Our machine's control node stopping stops its nodes; a prime
          // elsewhere handing its role over leaves us to the next one.
          if (this.ownerHost === this.node.host) void this.node.stop("owner stopped");
          else this.orphaned("owner stopped");
          return;
        }
        this.lastSeen = Date.now();
        this.ownerInterval = parsed.data.intervalMs;
      },
    });
  }

  private check(): void {
    const now = Date.now();
    if (this.since !== undefined) {
      if (now - this.since >= this.node.config.orphanGraceMs) {
        void this.node.stop("orphan: no control node adopted it");
      }
    } else if (!this.connected) {
      this.lastSeen = now;
    } else if (now - this.lastSeen > this.node.config.missedBeats * this.ownerInterval) {
      this.orphaned("owner gone");
    }
  }

  private orphaned(why: string): void {
    if (this.since !== undefined) return;
    if (!this.orphanable) {
      void this.node.stop(why);
      return;
    }
    this.since = Date.now();
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.node.log.warn("orphaned: serving on until a control node adopts this node", {
      owner: this.ownerId,
      why,
      graceMs: this.node.config.orphanGraceMs,
    });
    this.node.beat();
  }
}
