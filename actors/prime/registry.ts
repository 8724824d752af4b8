/**
 * The prime's registry, derived only from presence beats. A node that misses
 * `missedBeats` beats is dropped; when a control node goes, every node it
 * owns goes with it — matched by owner id, never by host or IP — and their
 * late beats are ignored until that control node itself beats again. Nodes
 * that say they are orphans (their control node's process died, they serve
 * on) stay: they wait to be adopted (actors/control/adopt.ts).
 */
import type { NodeView, Presence } from "../../wire/presence.js";

interface Entry {
  presence: Presence;
  lastSeen: number;
}

export type RegistryChange =
  { type: "added"; node: Presence } | { type: "dropped"; node: Presence; reason: string };

export class Registry {
  private readonly nodes = new Map<string, Entry>();
  /** Control nodes that went away, and when: their nodes' beats are ignored. */
  private readonly goneOwners = new Map<string, number>();

  constructor(
    private readonly missedBeats: number,
    private readonly onChange: (change: RegistryChange) => void = () => {},
  ) {}

  /** Apply one beat. */
  see(presence: Presence, now = Date.now()): void {
    if (presence.status === "stopping") {
      this.drop(presence.id, "stopped");
      return;
    }
    if (presence.owner === presence.id) this.goneOwners.delete(presence.id);
    else if (this.goneOwners.has(presence.owner) && presence.orphanSince === undefined) return;
    const known = this.nodes.has(presence.id);
    this.nodes.set(presence.id, { presence, lastSeen: now });
    if (!known) this.onChange({ type: "added", node: presence });
  }

  /** Drop every node silent for longer than its allowance. */
  sweep(now = Date.now()): void {
    for (const [id, entry] of this.nodes) {
      if (now - entry.lastSeen > this.missedBeats * entry.presence.intervalMs) {
        this.drop(id, `missed ${this.missedBeats} beats`);
      }
    }
    const forgetAfter = 60_000;
    for (const [owner, since] of this.goneOwners) {
      if (now - since > forgetAfter) this.goneOwners.delete(owner);
    }
  }

  drop(id: string, reason: string, now = Date.now()): void {
    const entry = this.nodes.get(id);
    if (!entry) return;
    this.nodes.delete(id);
    this.onChange({ type: "dropped", node: entry.presence, reason });
    const isControl = entry.presence.owner === id;
    if (!isControl) return;
    this.goneOwners.set(id, now);
    for (const [otherId, other] of this.nodes) {
      const { owner, orphanSince } = other.presence;
      if (owner === id && orphanSince === undefined) this.drop(otherId, `owner ${id} gone`, now);
    }
  }

  get(id: string): Presence | undefined {
    return this.nodes.get(id)?.presence;
  }

  /** Every node's latest beat. */
  all(): Presence[] {
    return [...this.nodes.values()].map((e) => e.presence);
  }

  ofKind(kind: Presence["kind"]): Presence[] {
    return [...this.nodes.values()].map((e) => e.presence).filter((p) => p.kind === kind);
  }

  list(now = Date.now()): NodeView[] {
    return [...this.nodes.values()]
      .map(({ presence, lastSeen }) => nodeView(presence, lastSeen, now))
      .sort((a, b) => a.kind.localeCompare(b.kind) || b.ageMs - a.ageMs);
  }

  /** How `chorus nodes` shows `presence` (also before the registry has it). */
  view(presence: Presence, now = Date.now()): NodeView {
    const entry = this.nodes.get(presence.id);
    return nodeView(entry?.presence ?? presence, entry?.lastSeen ?? now, now);
  }

  get size(): number {
    return this.nodes.size;
  }
}

function nodeView(p: Presence, lastSeen: number, now: number): NodeView {
  return {
    id: p.id,
    kind: p.kind,
    owner: p.owner,
    host: p.host,
    load: p.load,
    capacity: p.capacity,
    pid: p.pid,
    ageMs: Math.max(0, now - p.startedAt),
    lastSeenMs: now - lastSeen,
  };
}
