/** Where a new node goes, and which node a client is sent to. */
import type { Presence } from "../../wire/presence.js";

/** Planes with room, the one with the most room first. */
export function planesByRoom(planes: Presence[]): Presence[] {
  return planes
    .filter((p) => p.status === "up" && p.load < p.capacity)
    .sort((a, b) => b.capacity - b.load - (a.capacity - a.load));
}

/**
 * The order in which the prime offers a client to nodes of a kind: auth
 * nodes fill up oldest first (users 1–2 on the first node, as in the
 * original system); file nodes least loaded first, spreading streams.
 */
export function assignOrder(nodes: Presence[]): Presence[] {
  const candidates = nodes.filter((n) => n.status === "up" && n.load < n.capacity);
  if (candidates[0]?.kind === "auth") {
    return candidates.sort((a, b) => a.startedAt - b.startedAt);
  }
  return candidates.sort((a, b) => a.load / a.capacity - b.load / b.capacity);
}
