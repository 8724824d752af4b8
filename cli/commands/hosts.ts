/** `chorus hosts`: the P2P hosts playing now, to join with `chorus play --join HOST`. */
import { loadConfig } from "../../actors/runtime/config.js";
import { NullOutput } from "../../client/audio/null.js";
import type { Command } from "../command.js";
import { credentialFlags, credentialUsage } from "../credentials.js";
import { json, table } from "../output.js";
import { listHosts } from "../../client/p2p/hosts.js";
import { clock } from "../../client/song-time.js";
import { loginFromFlags } from "./listen.js";

export const hosts: Command = {
  name: "hosts",
  summary: "list the P2P hosts playing now (needs a login; join one with chorus play --join HOST)",
  usage: `Usage: chorus hosts [--json] [--user NAME] [--password-stdin]

Logs in, prints each host's id, user, song, position, state and listeners,
logs out. With --json: an array of objects with id, user, song, songId,
position and duration (seconds), state, paused, listeners, depth (0: plays
from a file node).
${credentialUsage}`,
  options: { json: { type: "boolean" }, ...credentialFlags },
  async run(flags) {
    const config = loadConfig(flags);
    const player = await loginFromFlags(flags, config, new NullOutput(), { host: false });
    try {
      const list = await listHosts(player.connection);
      if (flags.json) {
        process.stdout.write(json(list));
      } else {
        const rows = list.map((h) => ({
          id: h.id,
          user: h.user,
          song: h.song ?? "",
          position: `${clock(h.position)}/${clock(h.duration ?? 0)}`,
          state: h.state,
          listeners: h.listeners,
          via: h.depth === 0 ? "file node" : `${h.depth} host${h.depth > 1 ? "s" : ""}`,
        }));
        process.stdout.write(
          rows.length
            ? table(rows, ["id", "user", "song", "position", "state", "listeners", "via"])
            : "no hosts are playing now\n",
        );
      }
      return 0;
    } finally {
      await player.close();
    }
  },
};
