/**
 * The file node: lists the songs of its machine's music folder and streams
 * them as JetStream chunks to users with a live session (see service.ts).
 * Load is its number of live streams; it stops when it has had none for the
 * idle time.
 */
import type { Actor } from "../runtime/actor.js";
import { FileService } from "./service.js";

export async function startFileNode(actor: Actor): Promise<void> {
  await actor.start();
  await new FileService(actor).start();
  actor.enableIdleShutdown();
}
