/**
 * A plane control node: joins the control plane by its presence, spawns
 * actors on its machine when the prime asks (under its own `maxLoad`), and
 * reports its load (all in the shared ControlNode), and answers the prime's music
 * sync requests for its folder (actors/sync).
 */
import type { ChorusConfig } from "../runtime/config.js";
import { ControlNode } from "../control/control.js";
import { startPlaneSync } from "../sync/index.js";

export class Plane {
  readonly control: ControlNode;

  constructor(readonly config: ChorusConfig) {
    this.control = new ControlNode(config, "plane");
  }

  get actor() {
    return this.control.actor;
  }

  async start(): Promise<void> {
    await this.control.start();
    await startPlaneSync(this.control);
    await this.actor.announce();
  }
}
