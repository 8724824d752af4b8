/** `chorus spawn KIND`: ask the prime for a new node (an operator's tool: actor role). */
import { at } from "../../wire/contract.js";
import { primeSpawn } from "../../wire/prime.js";
import { loadConfig } from "../../actors/runtime/config.js";
import { connectBroker } from "../../actors/runtime/connect.js";
import { call } from "../../actors/runtime/endpoint.js";
import { ChorusError } from "../../wire/errors.js";
import { spawnableKinds, type SpawnableKind } from "../../wire/presence.js";
import type { Command } from "../command.js";
import { json, table } from "../output.js";

export const spawnCommand: Command = {
  name: "spawn",
  summary: "ask the prime to start a node of a kind (auth or file) where there is room",
  usage: `Usage: chorus spawn KIND [--json]

KIND is one of: ${spawnableKinds.join(", ")}. Needs the actor role (DATA/actor.secret
or CHORUS_ACTOR_PASSWORD). Prints the new node.`,
  options: { json: { type: "boolean" } },
  async run(flags, args) {
    const kind = args[0] as SpawnableKind | undefined;
    if (!kind || !(spawnableKinds as readonly string[]).includes(kind)) {
      throw new ChorusError(
        "BAD_REQUEST",
        `say which kind to spawn: ${spawnableKinds.join(" or ")}`,
      );
    }
    const config = loadConfig(flags);
    const nc = await connectBroker(config, "actor", "chorus-spawn", undefined, {
      reconnect: false,
    });
    try {
      const node = await call(nc, at(primeSpawn), { kind }, 30_000);
      process.stdout.write(
        flags.json
          ? json([node])
          : table(
              [{ ...node, load: `${node.load}/${node.capacity}` }],
              ["id", "kind", "owner", "host", "load"],
            ),
      );
      return 0;
    } finally {
      await nc.close();
    }
  },
};
