/** The auth node (issue 3 fills this in): for now it only idles out. */
import type { Actor } from "../actor.js";

export async function startAuthNode(actor: Actor): Promise<void> {
  await actor.start();
  actor.enableIdleShutdown();
}
