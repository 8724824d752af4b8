/**
 * A plane control node: joins the control plane by its presence, spawns
 * actors on its machine when the prime asks (under its own `maxLoad`), and
 * reports its load. All of that is the shared ControlNode; later issues add
 * music sync here.
 */
import type { ChorusConfig } from "../config.js";
import { ControlNode } from "../control.js";

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
    await this.actor.announce();
  }
}
