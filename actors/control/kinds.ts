/** How each spawnable kind starts, given its Actor (not yet started). */
import type { Actor } from "../runtime/actor.js";
import { startAuthNode } from "../auth/node.js";
import { startFileNode } from "../file/node.js";
import type { SpawnableKind } from "../../wire/presence.js";

export const kindStarters: Record<SpawnableKind, (actor: Actor) => Promise<void>> = {
  auth: startAuthNode,
  file: startFileNode,
};

export function capacityOf(kind: SpawnableKind, config: Actor["config"]): number {
  return kind === "auth" ? config.authCapacity : config.fileCapacity;
}
