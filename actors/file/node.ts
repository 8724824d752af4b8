/** The file node (issue 4 fills this in): for now it only idles out. */
import type { Actor } from "../actor.js";

export async function startFileNode(actor: Actor): Promise<void> {
  await actor.start();
  actor.enableIdleShutdown();
}
