/**
 * A control node — what `chorus plane`, `chorus prime` and `chorus up` run.
 * It spawns actors on its machine when asked (under its own `maxLoad`),
 * reports its load (all in the shared ControlNode), answers music sync
 * requests for its folder (actors/sync), keeps a registry from presence, and
 * stands for the prime role: whichever control node holds the prime lease
 * (actors/control/prime-lease.ts) serves the prime's subjects and beats as
 * kind "prime"; every other one beats as "plane" and waits to take over.
 * It adopts nodes whose control node died (actors/control/adopt.ts).
 */
import type { ChorusConfig } from "../runtime/config.js";
import { ControlNode } from "../control/control.js";
import { PrimeLease } from "../control/prime-lease.js";
import { Prime } from "../prime/prime.js";
import { startPlaneSync } from "../sync/index.js";
import { startAdopting } from "../control/adopt.js";

export class Plane {
  readonly control: ControlNode;
  private role?: Prime;
  private lease?: PrimeLease;

  /**
   * `kind` names the process in its logs, and a "prime" campaigns for the
   * role at once while a "plane" first gives a prime a few beats; the lease
   * decides what it beats as.
   */
  constructor(
    readonly config: ChorusConfig,
    private readonly kind: "prime" | "plane" = "plane",
  ) {
    this.control = new ControlNode(config, kind);
  }

  get actor() {
    return this.control.actor;
  }

  /** The prime role (its registry), once started. */
  get prime(): Prime | undefined {
    return this.role;
  }

  /** Whether this control node holds the prime role now. */
  get isPrime(): boolean {
    return this.lease?.held ?? false;
  }

  async start(): Promise<void> {
    await this.control.start();
    const actor = this.actor;
    const role = new Prime(this.control, await startPlaneSync(this.control));
    this.role = role;
    role.watch();
    const stopAdopting = startAdopting(this.control, role.registry, () => this.isPrime);
    actor.onStop(stopAdopting);
    this.control.sharesMachine = () =>
      role.registry
        .all()
        .some((n) => n.owner === n.id && n.id !== actor.id && n.host === actor.host);
    let stopServing: (() => Promise<void>) | undefined;
    this.lease = new PrimeLease(
      actor,
      {
        held: (previous) => {
          stopServing = role.serve(previous);
          actor.setKind("prime");
        },
        lost: async () => {
          actor.setKind("plane");
          const stop = stopServing;
          stopServing = undefined;
          await stop?.();
        },
      },
      this.kind === "prime",
    );
    await this.lease.start();
    actor.setKind(this.lease.held ? "prime" : "plane");
    await actor.announce();
    // After the announce: the gateway logs users in through the prime.
    await this.control.startGateway();
  }
}
