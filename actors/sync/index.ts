/**
 * Music sync between control nodes. Every control node runs a SyncAgent for
 * its own folder; the prime also runs the SyncCoordinator that reconciles.
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

/** Called by the prime once its control node and registry are running. */
export async function startPrimeSync(
  prime: SyncedPrime & { control: ControlNode },
): Promise<SyncCoordinator> {
  const agent = new SyncAgent(prime.control);
  await agent.start();
  const coordinator = new SyncCoordinator(prime, agent);
  coordinator.start();
  return coordinator;
}
