/** How each spawnable kind starts, given its Actor (not yet started). */
import type { Actor } from "../runtime/actor.js";
import { startAuthNode } from "../auth/node.js";
import { startFileNode } from "../file/node.js";
import { startGatewayNode } from "../gateway/node.js";
import type { ChildKind } from "../../wire/presence.js";

export const kindStarters: Record<ChildKind, (actor: Actor) => Promise<void>> = {
  auth: startAuthNode,
  file: startFileNode,
  gateway: startGatewayNode,
};

/** A gateway's capacity is the HTTP requests it serves at once (its load). */
export const gatewayCapacity = 1000;

export function capacityOf(kind: ChildKind, config: Actor["config"]): number {
  if (kind === "gateway") return gatewayCapacity;
  return kind === "auth" ? config.authCapacity : config.fileCapacity;
}
