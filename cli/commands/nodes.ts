/** `chorus nodes`: the registry as the prime sees it. */
import { loadConfig } from "../../actors/runtime/config.js";
import { connectBroker } from "../../actors/runtime/connect.js";
import type { Command } from "../command.js";
import { json, seconds, table } from "../output.js";
import { listNodes } from "../../client/registry.js";

export const nodes: Command = {
  name: "nodes",
  summary: "list every node the prime knows",
  usage: `Usage: chorus nodes [--json]

Prints id, kind, owner, host, load/capacity and age of every node. An
operator's tool: it needs the actor secret (a broker machine's data folder,
or CHORUS_ACTOR_PASSWORD).`,
  options: { json: { type: "boolean" } },
  async run(flags) {
    const config = loadConfig(flags);
    const nc = await connectBroker(config, "actor", "chorus-nodes", undefined, {
      reconnect: false,
    });
    try {
      const list = await listNodes(nc);
      if (flags.json) {
        process.stdout.write(json(list));
      } else {
        const rows = list.map((n) => ({
          id: n.id,
          kind: n.kind,
          owner: n.owner,
          host: n.host,
          load: `${n.load}/${n.capacity}`,
          age: seconds(n.ageMs),
        }));
        process.stdout.write(table(rows, ["id", "kind", "owner", "host", "load", "age"]));
      }
      return 0;
    } finally {
      await nc.close();
    }
  },
};
