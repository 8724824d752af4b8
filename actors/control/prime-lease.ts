/**
 * The prime is a role, not a process: one control node holds it at a time,
 * by a lease on JetStream KV. Every control node is a candidate.
 *
 * - The lease is the key `prime` in the bucket `chorus-lease`. A candidate
 *   takes it with a create (only when nobody holds it); its holder renews
 *   it every half beat with an update at the revision it last wrote, so a
 *   renewal can never overwrite somebody else's lease.
 * - The bucket's max age (a bucket-wide TTL: nats-server 2.9 honours it,
 *   not per-key TTLs) is 2.5 beats: a dead or cut-off holder's key is gone
 *   2.5 beats after its last renewal, and a candidate, asking every half
 *   beat, holds it within 3 beats.
 * - A holder that has not renewed for 2 beats gives the role up at once,
 *   before its key can expire and anyone else can take it. Two exceptions:
 *   cut off from a single broker, it keeps the role (nobody else can reach
 *   the broker either, and the others defer to it when it is back). And
 *   connected to a clustered broker whose bucket does not answer (the
 *   cluster electing the bucket's leader after a broker left, or this
 *   broker on the minority side of a partition), it serves on for up to 20
 *   beats: without a leader nobody can take the lease meanwhile, and across
 *   a partition no client reaches both sides. The last holder then gets the
 *   first chance to take the lease again. A renewal that finds another
 *   holder's key gives the role up at once.
 * - A holder that stops deletes its key, so a candidate takes over within
 *   half a beat.
 */
import { Kvm, type KV } from "@nats-io/kv";
import { jetstream, StorageType } from "@nats-io/jetstream";
import { z } from "zod";
import { safeJson, encodeJson } from "../../wire/codec.js";
import type { Actor } from "../runtime/actor.js";
import { isJsApiError, jsApiCodes } from "../runtime/streams.js";

export const leaseBucket = "chorus-lease";
export const leaseKey = "prime";

/** The lease's timing, in beats. */
export const leaseBeats = {
  ttl: 2.5,
  tick: 0.5,
  giveUpAfter: 2,
  planeGrace: 10,
  /** How long a holder still connected to its broker serves on while the bucket does not answer. */
  storeOutage: 20,
} as const;

const holderSchema = z.object({ id: z.string(), host: z.string(), since: z.number() });
export type LeaseHolder = z.infer<typeof holderSchema>;

export interface LeaseEvents {
  /** This node holds the role now; `previous` held it last (as far as this node saw). */
  held(previous: string | undefined): Promise<void> | void;
  /** This node no longer holds the role: stop serving it at once. */
  lost(reason: string): Promise<void> | void;
}

export class PrimeLease {
  private kv?: KV;
  private revision = 0;
  private renewedAt = 0;
  private holding = false;
  private stopped = false;
  private lastSeenHolder?: string;
  private since = 0;
  private deferUntil = 0;
  /** The lease was read once (a plane's grace starts then). */
  private reached = false;
  private loopDone?: Promise<void>;
  private watchdog?: NodeJS.Timeout;
  private wake?: () => void;
  private readonly ttlMs: number;
  private readonly tickMs: number;
  private readonly giveUpMs: number;
  private readonly graceMs: number;
  private readonly outageMs: number;
  /** The last lease round failed (no broker, or the bucket did not answer). */
  private outage = false;
  private connected = true;
  private warnedOutage = false;

  /**
   * `eager`: campaign from the first moment (`chorus prime`, `chorus up`).
   * Others (planes) that have seen no holder yet first give an eager one 10
   * beats from their first read of the lease, so starting a prime and its
   * planes together (a cluster still electing its JetStream leaders) makes
   * the prime the holder. Once a plane has seen a holder, it takes over as
   * soon as that one's lease is gone.
   */
  constructor(
    private readonly actor: Actor,
    private readonly events: LeaseEvents,
    private readonly eager = true,
  ) {
    const beat = actor.config.heartbeatMs;
    this.ttlMs = Math.round(beat * leaseBeats.ttl);
    this.tickMs = Math.max(10, Math.round(beat * leaseBeats.tick));
    this.giveUpMs = Math.round(beat * leaseBeats.giveUpAfter);
    this.graceMs = Math.round(beat * leaseBeats.planeGrace);
    this.outageMs = Math.round(beat * leaseBeats.storeOutage);
  }

  get held(): boolean {
    return this.holding;
  }

  /** The holder this node saw last (itself when it holds the lease). */
  get holder(): string | undefined {
    return this.holding ? this.actor.id : this.lastSeenHolder;
  }

  /** Try once now (so a lone control node starts as the prime), then every half beat. */
  async start(): Promise<void> {
    await this.tick();
    this.loopDone = this.loop();
    this.watchdog = setInterval(() => this.checkExpiry(), Math.max(10, this.tickMs / 2));
    this.actor.onStop(() => this.stop());
    void (async () => {
      for await (const s of this.actor.nc.status()) {
        if (this.stopped) return;
        if (s.type === "disconnect") this.connected = false;
        if (s.type === "reconnect") {
          this.connected = true;
          this.reconnected();
        }
      }
    })();
  }

  /** Stop campaigning; a holder gives the role up and deletes its key. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.watchdog);
    this.wake?.();
    await this.loopDone;
    if (this.holding) {
      const revision = this.revision;
      await this.lose("stopping");
      await this.kv
        ?.delete(leaseKey, { previousSeq: revision })
        .catch((err: unknown) =>
          this.actor.log.debug("cannot delete the lease", { error: String(err) }),
        );
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.tickMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (this.stopped) break;
      await this.tick();
    }
  }

  private async tick(): Promise<void> {
    try {
      const kv = await this.bucket();
      if (this.holding) await this.renew(kv);
      else await this.campaign(kv);
    } catch (err) {
      // No broker, no JetStream yet (a cluster still electing): the watchdog decides.
      this.kv = undefined;
      this.outage = true;
      this.actor.log.debug("lease round failed", { error: String(err) });
    }
    this.checkExpiry();
  }

  private async bucket(): Promise<KV> {
    if (this.kv) return this.kv;
    const options = { ttl: this.ttlMs, history: 1, storage: StorageType.Memory };
    // Short requests: an answer that is late is a round lost, the next round asks again.
    const timeout = Math.max(1000, 2 * this.actor.config.heartbeatMs);
    const kvm = new Kvm(jetstream(this.actor.nc, { timeout }));
    // Three replicas where a cluster has them, so the lease outlives one broker.
    this.kv = await kvm.create(leaseBucket, { ...options, replicas: 3 }).catch((err: unknown) => {
      if (!isJsApiError(err, jsApiCodes.replicasNotSupported, jsApiCodes.insufficientResources)) {
        throw err;
      }
      return kvm.create(leaseBucket, { ...options, replicas: 1 });
    });
    return this.kv;
  }

  private value(): Uint8Array {
    return encodeJson({ id: this.actor.id, host: this.actor.host, since: this.since });
  }

  /** Take the lease when nobody holds it; remember who does otherwise. */
  private async campaign(kv: KV): Promise<void> {
    const entry = await kv.get(leaseKey);
    const afterOutage = this.outage;
    this.outage = false;
    if (!this.eager && !this.reached) this.deferUntil = Date.now() + this.graceMs;
    this.reached = true;
    let ours = 0;
    if (entry && entry.operation === "PUT") {
      const holder = holderSchema.safeParse(safeJson(entry.value));
      if (!holder.success) return;
      this.lastSeenHolder = holder.data.id;
      if (holder.data.id !== this.actor.id) {
        // A holder is there: when it goes, take over at once.
        this.deferUntil = 0;
        return;
      }
      // Still our key (we gave the role up while the broker was out of reach): take it back.
      ours = entry.revision;
    } else if (afterOutage) {
      this.deferToLastHolder();
    }
    if (!ours && Date.now() < this.deferUntil) return;
    const sentAt = Date.now();
    this.since = sentAt;
    try {
      this.revision = ours
        ? await kv.update(leaseKey, this.value(), ours)
        : await kv.create(leaseKey, this.value());
    } catch (err) {
      if (isWrongSequence(err)) return; // somebody else was quicker
      throw err;
    }
    const previous = this.lastSeenHolder;
    this.lastSeenHolder = this.actor.id;
    this.renewedAt = sentAt;
    this.holding = true;
    this.actor.log.info("holds the prime lease", { previous });
    await this.events.held(previous === this.actor.id ? undefined : previous);
  }

  /**
   * Back from a broker outage (a restart loses the memory bucket, and with it
   * the lease; an election may expire it): the holder we saw last gets the
   * first chance to take it again, so an outage does not move the role.
   */
  private reconnected(): void {
    this.kv = undefined;
    this.deferToLastHolder();
    if (this.holding && !this.clustered()) {
      // Kept through the outage (see checkExpiry): renew at once, counting from now.
      this.renewedAt = Date.now();
      this.wake?.();
    }
  }

  /** A single broker has no elections, and nobody else can reach it while we cannot. */
  private clustered(): boolean {
    return this.actor.nc.info?.cluster !== undefined;
  }

  private deferToLastHolder(): void {
    if (this.lastSeenHolder && this.lastSeenHolder !== this.actor.id) {
      this.deferUntil = Math.max(this.deferUntil, Date.now() + this.ttlMs + this.tickMs);
    }
  }

  private async renew(kv: KV): Promise<void> {
    const sentAt = Date.now();
    try {
      this.revision = await kv.update(leaseKey, this.value(), this.revision, this.tickMs * 2);
    } catch (err) {
      if (!isWrongSequence(err)) throw err;
      // Our key expired. Nobody else holding it, we may take it again at once.
      try {
        this.revision = await kv.create(leaseKey, this.value());
        this.actor.log.warn("the prime lease had expired; taken again");
      } catch (again) {
        if (!isWrongSequence(again)) throw again;
        await this.lose("another control node holds the prime lease");
        return;
      }
    }
    this.renewedAt = sentAt;
    this.outage = false;
    this.warnedOutage = false;
  }

  /**
   * Give the role up once the lease may have expired, before anyone else can
   * hold it: at once when cut off from the broker, or on a single broker;
   * after `outageMs` when a clustered broker answers but the bucket does not
   * (see the top of this file).
   */
  private checkExpiry(): void {
    if (!this.holding) return;
    const silentMs = Date.now() - this.renewedAt;
    if (silentMs <= this.giveUpMs) return;
    const clustered = this.clustered();
    // Cut off from a single broker, so is every other candidate: nobody can take the lease
    // meanwhile, and when the broker is back (a restart empties the memory bucket) the
    // others defer to us (reconnected()). Serving on spares every client the takeover.
    if (!this.connected && !clustered && !this.actor.nc.isClosed()) return;
    // A single broker has no elections: a bucket that does not answer is a broker out of reach.
    if (!this.connected || this.actor.nc.isClosed() || !clustered) {
      void this.lose(`could not renew the prime lease for ${silentMs} ms`);
    } else if (silentMs > this.outageMs) {
      void this.lose(`the lease bucket has not answered for ${silentMs} ms`);
    } else if (!this.warnedOutage) {
      this.warnedOutage = true;
      this.actor.log.warn("the lease bucket does not answer; serving on while connected", {
        silentMs,
      });
    }
  }

  private async lose(reason: string): Promise<void> {
    if (!this.holding) return;
    this.holding = false;
    this.revision = 0;
    this.actor.log.warn("gave up the prime lease", { reason });
    try {
      await this.events.lost(reason);
    } catch (err) {
      this.actor.log.warn("giving up the prime role failed", { error: String(err) });
    }
  }
}

function isWrongSequence(err: unknown): boolean {
  return isJsApiError(err, jsApiCodes.wrongLastSequence, jsApiCodes.wrongLastSequenceUnknown);
}
