/**
 * Music sync between control nodes. Every control node runs a SyncAgent for
 * its own folder; the one holding the prime role also runs the SyncCoordinator
 * that reconciles.
 */
import type { ControlNode } from "../control/control.js";
import { SyncAgent } from "./agent.js";
import { SyncCoordinator, type SyncedPrime } from "./coordinator.js";

/** Called by a plane once its control node has started. */
export async function startPlaneSync(control: ControlNode): Promise<SyncAgent> {
  const agent = new SyncAgent(control);
  await agent.start();
  return agent;
}

/** Called by the control node that takes the prime role, with its running agent; stop() ends it. */
export function startPrimeSync(prime: SyncedPrime, agent: SyncAgent): SyncCoordinator {
  const coordinator = new SyncCoordinator(prime, agent);
  coordinator.start();
  return coordinator;
}
