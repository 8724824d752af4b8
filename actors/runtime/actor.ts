/**
 * The actor runtime every node uses: identity, broker connection, presence
 * beats, request-reply endpoints, capacity claims, idle shutdown, watching
 * its owner, and a graceful stop.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { randomBytes } from "node:crypto";
import type { z } from "zod";
import { encodeJson } from "../../wire/codec.js";
import { at, type Route } from "../../wire/contract.js";
import { nodeAdopt, nodeClaim } from "../../wire/prime.js";
import type { ChorusConfig } from "./config.js";
import { checkServerInfo } from "./broker-check.js";
import { connectBroker } from "./connect.js";
import { serve, type EndpointOptions, type Handler } from "./endpoint.js";
import { ChorusError } from "../../wire/errors.js";
import { hostIdOf, newId } from "./identity.js";
import { createLogger, type Logger } from "./log.js";
import { MicroService } from "./micro.js";
import { chorusVersion } from "./version.js";
import { settlesWithin } from "./shutdown.js";
import { OwnerWatch } from "./owner-watch.js";
import { type NodeKind, type Presence } from "../../wire/presence.js";
import { subjects } from "../../wire/subjects.js";

export interface ActorOptions {
  config: ChorusConfig;
  kind: NodeKind;
  id?: string;
  /** Owning control node; a control node owns itself. */
  owner?: string;
  capacity: number;
}

/** How long a stopping actor waits for its stop hooks, then for the broker to take its last messages. */
export const stopHooksMs = 1000;
const drainMs = 200;

/** How long a claimed slot is held for a client that has not arrived yet. */
export const claimTtlMs = 5000;
/** Claims a node remembers beyond its capacity (oldest forgotten first), so a flood cannot grow the table. */
const extraClaims = 256;

export class Actor {
  readonly config: ChorusConfig;
  readonly id: string;
  readonly host: string;
  readonly log: Logger;
  readonly startedAt = Date.now();
  capacity: number;

  private currentKind: NodeKind;
  private readonly firstOwner: string;
  private ownerWatch?: OwnerWatch;
  private connection?: NatsConnection;
  private discovery?: MicroService;
  private beatTimer?: NodeJS.Timeout;
  private readonly claims = new Map<string, number>();
  private loadOf: () => number = () => 0;
  private unprovenOf: () => number = () => 0;
  private readonly stopHooks: Array<() => Promise<void> | void> = [];
  private readonly stopped: Promise<string>;
  private resolveStopped!: (reason: string) => void;
  private stopping = false;

  constructor(options: ActorOptions) {
    this.config = options.config;
    this.currentKind = options.kind;
    this.id = options.id ?? newId(options.kind);
    this.firstOwner = options.owner ?? this.id;
    this.host = hostIdOf(options.config);
    this.capacity = options.capacity;
    this.log = createLogger(`${this.kind}/${this.id}`);
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
  }

  /** Its control node now (itself for a control node): adoption can change it. */
  get owner(): string {
    return this.ownerWatch?.owner ?? this.firstOwner;
  }

  /** What the node is now: a control node is "prime" while it holds the prime role, else "plane". */
  get kind(): NodeKind {
    return this.currentKind;
  }

  /** Beat as another kind from now on (a control node taking or giving up the prime role). */
  setKind(kind: NodeKind): void {
    if (kind === this.currentKind) return;
    this.currentKind = kind;
    if (this.beatTimer) this.beat();
  }

  get nc(): NatsConnection {
    if (!this.connection) throw new Error("actor not started");
    return this.connection;
  }

  /**
   * Connect and serve the claim endpoint. The node stays invisible until
   * `announce()`: its kind serves its own endpoints first, so nobody is sent
   * to a node that cannot answer yet.
   */
  async start(): Promise<void> {
    this.connection = await connectBroker(
      this.config,
      "actor",
      `${this.kind}/${this.id}`,
      this.log,
    );
    try {
      checkServerInfo(this.connection, this.config);
    } catch (err) {
      await this.connection.close();
      throw err;
    }
    // Discoverable the standard way: `nats micro ls` lists every node, `info`/`stats` its endpoints.
    this.discovery = new MicroService(
      this.connection,
      {
        name: `chorus-${this.kind}`,
        id: this.id,
        version: chorusVersion,
        description: `Chorus ${this.kind} node`,
        metadata: { host: this.host, owner: this.owner },
      },
      this.log,
    );
    this.discovery.start();
    this.serve(at(nodeClaim, this.id), () => this.claim());
    void this.republishOnReconnect();
  }

  /** Make sure every subscription reached the broker, then start beating. */
  async announce(): Promise<void> {
    await this.nc.flush();
    this.beat();
    this.beatTimer = setInterval(() => this.beat(), this.config.heartbeatMs);
    this.log.info("started", { owner: this.owner, host: this.host, pid: process.pid });
  }

  /**
   * What the node's kind counts: `load`, slots real users hold (sessions,
   * streams); `unproven`, slots held for work anyone can start (a login
   * still checking its password).
   */
  setLoad(load: () => number, unproven: () => number = () => 0): void {
    this.loadOf = load;
    this.unprovenOf = unproven;
  }

  /**
   * The load the node publishes and the prime places by. Unproven slots —
   * claims nobody has used yet, and unproven work — count only up to
   * `capacity − 1`: only a real user can make a node full. A stranger with
   * the listener password can ask the prime for assignments all day (each
   * one a claim) without making it spawn a single node: the flood keeps
   * landing on a node that still shows room, and every node the prime
   * spawns holds at least one real user. Up to `capacity − 1` claims still
   * reserve strictly, so a burst of real users spreads as before; beyond
   * that a node with no real user gives out more claims than it has room,
   * and whoever arrives once its slots are really taken gets NO_ROOM and
   * asks the prime again (see consumeClaim).
   */
  load(): number {
    this.expireClaims();
    const unproven = this.unprovenOf() + this.claims.size;
    return this.loadOf() + Math.min(unproven, Math.max(0, this.capacity - 1));
  }

  /** Slots really taken: by real users, and by unproven work under way (not by claims). */
  private taken(): number {
    return this.loadOf() + this.unprovenOf();
  }

  /** Room for one more user who comes without a usable claim. */
  hasRoom(): boolean {
    return this.load() < this.capacity && this.taken() < this.capacity;
  }

  serve<Req extends z.ZodType, Rep extends z.ZodType>(
    route: Route<Req, Rep>,
    handler: Handler<Req, Rep>,
    options?: EndpointOptions,
  ): Subscription {
    const stats = this.discovery?.addEndpoint({
      name: route.endpoint.name,
      subject: route.subject,
      queueGroup: options?.queue ?? "",
    });
    const sub = serve(this.nc, route, handler, this.log, {
      ...options,
      record: (elapsedNs, error) => stats?.record(elapsedNs, error),
    });
    // An endpoint given up (unsubscribed) is no longer listed in $SRV INFO.
    if (stats) void sub.closed.then(() => this.discovery?.removeEndpoint(stats));
    return sub;
  }

  /** Reserve one slot for a client the prime is sending here. */
  claim(): { claim: string } {
    if (this.stopping) throw new ChorusError("UNAVAILABLE", "node is stopping");
    if (this.load() >= this.capacity) throw new ChorusError("NO_ROOM", "node is full");
    const claim = randomBytes(12).toString("base64url");
    this.claims.set(claim, Date.now() + claimTtlMs);
    for (const oldest of this.claims.keys()) {
      if (this.claims.size <= this.capacity + extraClaims) break;
      this.claims.delete(oldest);
    }
    this.beat();
    return { claim };
  }

  /**
   * Use a claim: true when it is known, unexpired, and a slot is really
   * free (claims can outnumber the free slots: see load()). The caller then
   * counts the slot as its own load at once.
   */
  consumeClaim(claim: string | undefined): boolean {
    this.expireClaims();
    if (claim === undefined || !this.claims.delete(claim)) return false;
    return this.taken() < this.capacity;
  }

  private expireClaims(): void {
    const now = Date.now();
    for (const [claim, until] of this.claims) if (until < now) this.claims.delete(claim);
  }

  presence(status: Presence["status"] = "up"): Presence {
    return {
      id: this.id,
      kind: this.kind,
      owner: this.owner,
      host: this.host,
      load: this.load(),
      capacity: this.capacity,
      intervalMs: this.config.heartbeatMs,
      status,
      startedAt: this.startedAt,
      pid: process.pid,
      ...(this.ownerWatch?.orphanSince !== undefined
        ? { orphanSince: this.ownerWatch.orphanSince }
        : {}),
    };
  }

  /** Publish presence now (also used right after load changes). */
  beat(status: Presence["status"] = "up"): void {
    if (!this.connection || this.connection.isClosed()) return;
    if (this.stopping && status === "up") return;
    try {
      this.connection.publish(
        subjects.presence(this.kind, this.id),
        encodeJson(this.presence(status)),
      );
    } catch (err) {
      this.log.warn("cannot publish presence", { error: String(err) });
    }
  }

  private async republishOnReconnect(): Promise<void> {
    for await (const s of this.nc.status()) if (s.type === "reconnect") this.beat();
  }

  /**
   * Stop when the node has had no load for `idleMs`. Checked on every beat,
   * so the node stops within one beat of the idle time.
   */
  enableIdleShutdown(idleMs = this.config.idleMs): void {
    let idleSince = Date.now();
    const timer = setInterval(
      () => {
        if (this.load() > 0 || this.taken() > 0) {
          idleSince = Date.now();
        } else if (Date.now() - idleSince >= idleMs) {
          void this.stop("idle");
        }
      },
      Math.min(this.config.heartbeatMs, idleMs),
    );
    this.onStop(() => clearInterval(timer));
  }

  /**
   * Stop with the owning control node; keep serving as an orphan when its
   * process dies, until another adopts this node (actors/runtime/owner-watch.ts).
   */
  watchOwner(orphanable = true): void {
    if (this.owner === this.id) return;
    const watch = new OwnerWatch(this, this.owner, orphanable);
    this.ownerWatch = watch;
    watch.start();
    this.serve(at(nodeAdopt, this.id), ({ owner, host }) => watch.adopt(owner, host));
    this.onStop(() => watch.stop());
  }

  onStop(hook: () => Promise<void> | void): void {
    this.stopHooks.push(hook);
  }

  /** Resolves with the reason once the actor has stopped. */
  whenStopped(): Promise<string> {
    return this.stopped;
  }

  isStopping(): boolean {
    return this.stopping;
  }

  /** Say goodbye (so the prime drops us at once), run hooks, drain. Idempotent. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return this.stopped.then(() => undefined);
    this.beat("stopping");
    this.stopping = true;
    this.log.info("stopping", { reason });
    clearInterval(this.beatTimer);
    // With the broker gone a hook or the drain can wait forever: both are
    // bounded, so the process stops within its deadline (actors/shutdown.ts).
    // Hooks past the deadline are still started (children still get their
    // SIGTERM), just not waited for.
    const deadline = Date.now() + stopHooksMs;
    let late = false;
    for (const hook of this.stopHooks.reverse()) {
      const run = Promise.resolve()
        .then(hook)
        .catch((err: unknown) => this.log.warn("stop hook failed", { error: String(err) }));
      const left = deadline - Date.now();
      if (late || left <= 0 || !(await settlesWithin(run, left))) late = true;
    }
    if (late) this.log.warn("stopping without waiting any longer", { waitedMs: stopHooksMs });
    const nc = this.connection;
    if (nc && !nc.isClosed()) {
      const drained = nc.drain().catch((err: unknown) => {
        this.log.debug("drain failed", { error: String(err) });
      });
      await settlesWithin(drained, drainMs);
      // A drain refused while reconnecting leaves the connection trying forever: close it.
      if (!nc.isClosed()) await settlesWithin(nc.close(), drainMs);
    }
    this.resolveStopped(reason);
  }

  /** SIGINT/SIGTERM stop the actor gracefully. */
  stopOnSignals(): void {
    const onSignal = (signal: NodeJS.Signals): void => void this.stop(signal);
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
}
