/** `chorus songs`: the catalogue, for people or (--json) for scripts. */
import { loadConfig } from "../../actors/config.js";
import { describeFormat } from "../audio/format.js";
import { NullOutput } from "../audio/null.js";
import type { Command } from "../command.js";
import { credentialFlags, credentialUsage } from "../credentials.js";
import { json, table } from "../output.js";
import { clock } from "../screen/view.js";
import { loginFromFlags } from "./listen.js";

export const songs: Command = {
  name: "songs",
  summary: "list the songs (needs a login)",
  usage: `Usage: chorus songs [--json] [--user NAME] [--password-stdin]

Logs in, lists the catalogue of a file node (id, title, duration, format,
file), logs out. --json prints an array of {id, title, file, duration
(seconds), sampleRate, channels, bitDepth}.
${credentialUsage}`,
  options: { json: { type: "boolean" }, ...credentialFlags },
  async run(flags) {
    const config = loadConfig(flags);
    const player = await loginFromFlags(flags, config, new NullOutput());
    try {
      const list = await player.songs();
      if (flags.json) {
        process.stdout.write(
          json(
            list.map((s) => ({
              id: s.id,
              title: s.title,
              file: s.file,
              duration: s.duration,
              ...(s.format ?? {}),
            })),
          ),
        );
      } else {
        const rows = list.map((s) => ({
          id: s.id,
          title: s.title,
          duration: clock(s.duration),
          format: s.format ? describeFormat(s.format) : "",
          file: s.file,
        }));
        process.stdout.write(table(rows, ["id", "title", "duration", "format", "file"]));
      }
      return 0;
    } finally {
      await player.close();
    }
  },
};
