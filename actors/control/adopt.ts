/**
 * Adopting orphans: nodes whose control node's process died and that serve
 * on (actors/runtime/owner-watch.ts). Every control node adopts the orphans
 * of its own machine, and takes its machine's nodes back from a control node
 * elsewhere; the prime adopts every other orphan, so a dead machine-less
 * owner costs nobody their session or stream.
 */
import { at } from "../../wire/contract.js";
import { nodeAdopt } from "../../wire/prime.js";
import type { Presence } from "../../wire/presence.js";
import { call } from "../runtime/endpoint.js";
import { sweepEvery } from "../runtime/sweep.js";
import type { Registry } from "../prime/registry.js";
import type { ControlNode } from "./control.js";

export function startAdopting(
  control: ControlNode,
  registry: Registry,
  isPrime: () => boolean,
): () => void {
  const actor = control.actor;
  const asking = new Set<string>();

  const wanted = (node: Presence): boolean => {
    if (node.owner === node.id || node.owner === actor.id) return false;
    const here = node.host === actor.host;
    if (node.orphanSince !== undefined) return here || isPrime();
    // Ours to take back: a node of this machine owned from another machine.
    const ownerHost = registry.get(node.owner)?.host;
    return here && ownerHost !== undefined && ownerHost !== actor.host;
  };

  const adopt = async (node: Presence): Promise<void> => {
    asking.add(node.id);
    try {
      const { owner } = await call(
        actor.nc,
        at(nodeAdopt, node.id),
        { owner: actor.id, host: actor.host },
        1000,
      );
      if (owner !== actor.id) return;
      actor.log.info("adopted a node", { id: node.id, kind: node.kind, was: node.owner });
      if (node.host === actor.host) control.adoptedHere(node.id, node.pid);
      registry.see({ ...node, owner: actor.id, orphanSince: undefined });
    } catch (err) {
      actor.log.debug("adoption failed", { id: node.id, error: String(err) });
    } finally {
      asking.delete(node.id);
    }
  };

  return sweepEvery(Math.max(20, Math.floor(actor.config.heartbeatMs / 2)), () => {
    if (actor.isStopping()) return;
    for (const node of registry.all()) {
      if (!asking.has(node.id) && wanted(node)) void adopt(node);
    }
    control.forgetAdopted((id) => registry.get(id)?.owner === actor.id);
  });
}
