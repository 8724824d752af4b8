/**
 * Entry point of a spawned actor process: `node dist/actors/control/main.js KIND`.
 * Its control node passes configuration, id and owner in the environment.
 */
import { Actor } from "../runtime/actor.js";
import { configSchema } from "../runtime/config.js";
import { capacityOf, kindStarters } from "./kinds.js";
import { createLogger } from "../runtime/log.js";
import { enforceStopDeadline } from "../runtime/shutdown.js";
import { childKinds, type ChildKind } from "../../wire/presence.js";

// A spawned node stops within 2 s of SIGINT/SIGTERM, whatever the broker's state.
enforceStopDeadline();

async function main(): Promise<void> {
  const kind = process.argv[2];
  if (!childKinds.includes(kind as ChildKind)) {
    throw new Error(`unknown node kind "${kind}" (known: ${childKinds.join(", ")})`);
  }
  const config = configSchema.parse(JSON.parse(process.env.CHORUS_ACTOR_CONFIG ?? "null"));
  const actor = new Actor({
    config,
    kind: kind as ChildKind,
    id: process.env.CHORUS_NODE_ID,
    owner: process.env.CHORUS_OWNER,
    capacity: capacityOf(kind as ChildKind, config),
  });
  actor.stopOnSignals();
  await kindStarters[kind as ChildKind](actor);
  await actor.announce();
  // The gateway holds its machine's HTTP port: the control node that comes back starts its own.
  actor.watchOwner(kind !== "gateway");
  await actor.whenStopped();
  process.exit(0);
}

const log = createLogger("actor");
process.on("uncaughtException", (err) => {
  log.error("crashed", { error: err.stack ?? String(err) });
  process.exit(1);
});
main().catch((err: unknown) => {
  log.error("failed to start", { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
