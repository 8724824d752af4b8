/**
 * The prime's side of sync: every `syncIntervalMs`, and as soon as a new
 * plane joins, one round reads every control node's manifest and moves what
 * is missing (see plan.ts for the rule). Rounds never overlap; transfers run
 * one at a time, each through its own object in the bucket, removed when the
 * transfer ends. A failed transfer is logged and tried again next round.
 */
import { call } from "../runtime/endpoint.js";
import { ChorusError } from "../../wire/errors.js";
import { at } from "../../wire/contract.js";
import type { Actor } from "../runtime/actor.js";
import type { Registry } from "../prime/registry.js";
import type { SyncAgent } from "./agent.js";
import { byName, planPulls, planPushes, type Move, type NodeFiles } from "./plan.js";
import {
  controlFetch,
  controlManifest,
  controlReceive,
  primeSync,
  type ManifestEntry,
  type SyncNodeStatus,
  type SyncStatus,
  type TransferView,
} from "../../wire/sync.js";
import { newObjectName } from "./store.js";

/** What sync needs of the prime: its actor and its registry of control nodes. */
export interface SyncedPrime {
  actor: Actor;
  registry: Registry;
}

interface View extends NodeFiles {
  kind: "prime" | "plane";
  seenAt?: number;
  lastError?: string;
}

/** A request's deadline for a transfer of `size` bytes (assumes at least ~4 MB/s). */
function transferTimeoutMs(size: number): number {
  return 30_000 + Math.ceil(size / 4_000);
}

export class SyncCoordinator {
  private readonly views = new Map<string, View>();
  private readonly inFlight = new Map<string, TransferView>();
  private rounds = 0;
  private lastRound?: SyncStatus["lastRound"];
  private again = true;
  private wake?: () => void;
  private waiters: Array<() => void> = [];
  private stopped = false;
  private knownPlanes = new Set<string>();
  private loopDone?: Promise<void>;
  private stopNow?: () => void;

  constructor(
    private readonly primeNode: SyncedPrime,
    private readonly agent: SyncAgent,
  ) {}

  private get actor(): Actor {
    return this.primeNode.actor;
  }

  private get registry(): Registry {
    return this.primeNode.registry;
  }

  start(): void {
    const actor = this.actor;
    const sub = actor.serve(at(primeSync), async (req) => {
      if (req.run) await this.runSoon();
      return this.status();
    });
    const watch = setInterval(() => this.watchPlanes(), actor.config.heartbeatMs);
    this.loopDone = this.loop();
    this.stopNow = () => {
      sub.unsubscribe();
      clearInterval(watch);
      this.stopped = true;
      this.wake?.();
    };
  }

  /** Stop answering and starting rounds (the prime role given up); resolves when the round under way ends. */
  async stop(): Promise<void> {
    this.stopNow?.();
    await this.loopDone;
  }

  /** A plane the last look did not see: reconcile now. */
  private watchPlanes(): void {
    const planes = new Set(this.registry.ofKind("plane").map((p) => p.id));
    const fresh = [...planes].some((id) => !this.knownPlanes.has(id));
    this.knownPlanes = planes;
    for (const id of this.views.keys()) {
      if (id !== this.actor.id && !planes.has(id)) this.views.delete(id);
    }
    if (fresh) this.trigger();
  }

  trigger(): void {
    this.again = true;
    this.wake?.();
  }

  /** Resolves when a round that started after this call has finished. */
  runSoon(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.trigger();
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (!this.again) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.actor.config.syncIntervalMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
        if (this.stopped) break;
      }
      this.again = false;
      const waiters = this.waiters.splice(0);
      try {
        await this.round();
      } catch (err) {
        this.agent.log.warn("sync round failed", { error: String(err) });
      }
      for (const resolve of waiters) resolve();
    }
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private async round(): Promise<void> {
    const started = Date.now();
    let moved = 0;
    let failed = 0;
    const prime = this.primeView();
    prime.files = byName(await this.agent.manifest.scan());
    prime.seenAt = Date.now();
    const planes: View[] = [];
    const present = this.registry
      .ofKind("plane")
      .sort((a, b) => a.startedAt - b.startedAt || a.id.localeCompare(b.id));
    for (const p of present) {
      const view = this.viewOf(p.id, "plane", p.host);
      try {
        view.files = byName(await this.readManifest(p.id));
        view.seenAt = Date.now();
        view.lastError = undefined;
        planes.push(view);
      } catch (err) {
        view.lastError = String(err instanceof Error ? err.message : err);
        this.agent.log.warn("cannot read a plane's manifest", {
          plane: p.id,
          error: view.lastError,
        });
      }
    }
    const outcome = async (move: Move, run: () => Promise<void>): Promise<void> => {
      if (this.stopped) return;
      try {
        await run();
        moved++;
      } catch (err) {
        failed++;
        const message = err instanceof Error ? err.message : String(err);
        const view = this.views.get(move.plane.id);
        if (view) view.lastError = message;
        this.agent.log.warn("transfer failed; retried next round", {
          name: move.entry.name,
          plane: move.plane.id,
          error: message,
        });
      }
    };
    for (const move of planPulls(prime.files, planes)) {
      await outcome(move, () => this.pull(move, prime));
    }
    for (const plane of planes) {
      for (const move of planPushes(prime.files, plane)) {
        await outcome(move, () => this.push(move));
      }
    }
    if (moved + failed > 0) await this.purgeBucket();
    this.rounds++;
    this.lastRound = { at: started, ms: Date.now() - started, moved, failed };
    if (moved > 0 || failed > 0) {
      this.agent.log.info("sync round", { ms: this.lastRound.ms, moved, failed });
    }
  }

  private async readManifest(planeId: string): Promise<ManifestEntry[]> {
    const files: ManifestEntry[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const reply = await call(
        this.actor.nc,
        at(controlManifest, planeId),
        after === undefined ? {} : { after },
        10_000,
      );
      files.push(...reply.files);
      if (!reply.next) return files;
      after = reply.next;
    }
    throw new ChorusError("INTERNAL", "manifest has too many pages");
  }

  /** Plane → prime: the plane puts it into the bucket, the prime takes it out. */
  private async pull(move: Move, prime: View): Promise<void> {
    const { entry, plane } = move;
    await this.transfer(entry, plane.id, this.actor.id, async (object) => {
      await this.whilePlaneLives(
        plane.id,
        call(
          this.actor.nc,
          at(controlFetch, plane.id),
          { name: entry.name, hash: entry.hash, size: entry.size, object },
          transferTimeoutMs(entry.size),
        ),
      );
      const got = await this.agent.receive(
        { name: entry.name, hash: entry.hash, size: entry.size, object, from: plane.host },
        "keep",
      );
      prime.files.set(got.stored, { ...entry, name: got.stored });
    });
  }

  /** Prime → plane: the prime puts it into the bucket, the plane takes it out. */
  private async push(move: Move): Promise<void> {
    const { entry, plane, conflict } = move;
    if (conflict) {
      this.agent.log.warn("sync conflict: the prime's copy wins, the plane keeps its own aside", {
        name: entry.name,
        plane: plane.id,
      });
    }
    await this.transfer(entry, this.actor.id, plane.id, async (object) => {
      await this.agent.send({ name: entry.name, hash: entry.hash, size: entry.size, object });
      const got = await this.whilePlaneLives(
        plane.id,
        call(
          this.actor.nc,
          at(controlReceive, plane.id),
          {
            name: entry.name,
            hash: entry.hash,
            size: entry.size,
            object,
            from: this.actor.host,
          },
          transferTimeoutMs(entry.size),
        ),
      );
      const old = plane.files.get(entry.name);
      plane.files.set(entry.name, entry);
      // Its displaced copy now lives under a conflict name; the next round spreads it.
      if (got.movedAside && old) plane.files.set(got.movedAside, { ...old, name: got.movedAside });
      if (got.movedAside) this.again = true;
    });
  }

  private async transfer(
    entry: ManifestEntry,
    from: string,
    to: string,
    run: (object: string) => Promise<void>,
  ): Promise<void> {
    const object = newObjectName();
    this.inFlight.set(object, {
      name: entry.name,
      from,
      to,
      size: entry.size,
      startedAt: Date.now(),
    });
    try {
      await run(object);
    } finally {
      this.inFlight.delete(object);
      const store = await this.agent.syncStore().catch(() => undefined);
      await store?.os.delete(object).catch(() => undefined);
    }
  }

  /** Give up on a request as soon as the plane leaves the registry (or the prime stops). */
  private whilePlaneLives<T>(planeId: string, request: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const gone = new Promise<never>((_, reject) => {
      timer = setInterval(() => {
        if (this.stopped) reject(new ChorusError("UNAVAILABLE", "prime is stopping"));
        else if (!this.registry.get(planeId)) {
          reject(new ChorusError("UNAVAILABLE", `plane ${planeId} left during the transfer`));
        }
      }, this.actor.config.heartbeatMs);
    });
    return Promise.race([request, gone]).finally(() => clearInterval(timer));
  }

  /** Between rounds nothing is in flight: whatever is left in the bucket is debris. */
  private async purgeBucket(): Promise<void> {
    try {
      await (await this.agent.syncStore()).purge();
    } catch (err) {
      this.agent.log.debug("cannot purge the transfer bucket", { error: String(err) });
    }
  }

  private primeView(): View {
    return this.viewOf(this.actor.id, "prime", this.actor.host);
  }

  private viewOf(id: string, kind: View["kind"], host: string): View {
    let view = this.views.get(id);
    if (!view) {
      view = { id, kind, host, files: new Map() };
      this.views.set(id, view);
    }
    return view;
  }

  status(): SyncStatus {
    const prime = this.primeView();
    const all = new Set<string>();
    for (const v of this.views.values()) for (const name of v.files.keys()) all.add(name);
    const flights = [...this.inFlight.values()];
    const nodes: SyncNodeStatus[] = [...this.views.values()].map((v) => {
      let inSync = 0;
      let conflicts = 0;
      for (const entry of v.files.values()) {
        const reference = prime.files.get(entry.name);
        if (!reference || reference.hash === entry.hash) inSync++;
        else conflicts++;
      }
      return {
        id: v.id,
        kind: v.kind,
        host: v.host,
        files: v.files.size,
        inSync,
        missing: [...all].filter((name) => !v.files.has(name)).length,
        conflicts,
        inFlight: flights.filter((t) => t.from === v.id || t.to === v.id).length,
        ...(v.seenAt ? { seenAt: v.seenAt } : {}),
        ...(v.lastError ? { lastError: v.lastError } : {}),
      };
    });
    nodes.sort((a, b) =>
      a.kind === b.kind ? a.id.localeCompare(b.id) : a.kind === "prime" ? -1 : 1,
    );
    return {
      intervalMs: this.actor.config.syncIntervalMs,
      rounds: this.rounds,
      ...(this.lastRound ? { lastRound: this.lastRound } : {}),
      nodes,
      inFlight: flights,
    };
  }
}
