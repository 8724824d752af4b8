/** `chorus songs`: the catalogue, for people or (--json) for scripts. */
import { loadConfig } from "../../actors/runtime/config.js";
import { describeFormat } from "../../client/audio/format.js";
import { NullOutput } from "../../client/audio/null.js";
import type { Command } from "../command.js";
import { credentialFlags, credentialUsage } from "../credentials.js";
import { json, table } from "../output.js";
import { clock } from "../../client/song-time.js";
import { loginFromFlags } from "./listen.js";

export const songs: Command = {
  name: "songs",
  summary: "list the songs (needs a login)",
  usage: `Usage: chorus songs [--json] [--user NAME] [--password-stdin]

Logs in, lists the catalogue of a file node (id, title, artist, album, track,
duration, format, file; artist, album and track only when some song has
them), logs out. --json prints an array of {id, title, artist?, album?,
track?, file, duration (seconds), sampleRate, channels, bitDepth}.
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
              ...(s.artist ? { artist: s.artist } : {}),
              ...(s.album ? { album: s.album } : {}),
              ...(s.track ? { track: s.track } : {}),
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
          artist: s.artist ?? "",
          album: s.album ?? "",
          track: s.track ?? "",
          duration: clock(s.duration),
          format: s.format ? describeFormat(s.format) : "",
          file: s.file,
        }));
        // Tag columns only when some song is tagged: untagged folders stay narrow.
        const tagged = (["artist", "album", "track"] as const).filter((c) =>
          rows.some((r) => r[c] !== ""),
        );
        const columns = ["id", "title", ...tagged, "duration", "format", "file"];
        process.stdout.write(table(rows, columns));
      }
      return 0;
    } finally {
      await player.close();
    }
  },
};
