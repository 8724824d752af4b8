/**
 * `chorus play SONG`: log in, play one song (or part of it) without the
 * screen, log out. Audio goes to --out; messages go to stderr, so stdout can
 * carry raw PCM (`--out -`).
 */
import { loadConfig } from "../../actors/runtime/config.js";
import { ChorusError } from "../../wire/errors.js";
import { describeFormat } from "../../client/audio/format.js";
import type { Command } from "../command.js";
import { credentialFlags, credentialUsage, getCredentials } from "../credentials.js";
import type { Player } from "../../client/player.js";
import { clock } from "../../client/song-time.js";
import { findSong, outputFor, qualityFlag, secondsFlag, startPlayer } from "./listen.js";
import { printable } from "../printable.js";

const say = (line: string): boolean => process.stderr.write(`chorus: ${printable(line)}\n`);

export const play: Command = {
  name: "play",
  summary: "play a song without the screen (to the sound card, a WAV file, stdout or silence)",
  usage: `Usage: chorus play SONG [--out FILE.wav|-|null|speaker] [--from SEC] [--for SEC]
                  [--quality lossless|high|normal|low]
       chorus play --join HOST [--out ...] [--for SEC]

SONG is a song id, file name or title (see chorus songs).
  --out FILE.wav     write a WAV file
  --out -            raw PCM on stdout (the format and aplay flags go to stderr)
  --out null         silence at real-time pace
  --out speaker      the sound card (fails when there is none)
                     default: the sound card when one works, else raw PCM when
                     stdout is a pipe, else DATA/play.wav
  --from SEC         start at this second
  --for SEC          stop after this many seconds
  --quality LEVEL    lossless (default: the file's own PCM), high (Opus
                     256 kbit/s), normal (128k) or low (64k); decoded here
  --join HOST        follow a P2P host (an id or user from chorus hosts): its
                     song, from the point it is at, with its pauses and seeks;
                     when it goes away, carry on from a file node
  --no-host          do not relay what plays here (others cannot join you)
${credentialUsage}`,
  options: {
    out: { type: "string", short: "o" },
    from: { type: "string" },
    for: { type: "string" },
    quality: { type: "string", short: "q" },
    join: { type: "string" },
    "no-host": { type: "boolean" },
    ...credentialFlags,
  },
  async run(flags, args) {
    const wanted = args[0];
    const join = typeof flags.join === "string" ? flags.join.trim() : undefined;
    if (join !== undefined) {
      if (!join) throw new ChorusError("BAD_REQUEST", "--join needs a host (see chorus hosts)");
      if (wanted || flags.from !== undefined) {
        throw new ChorusError(
          "BAD_REQUEST",
          "--join plays the host's song from its point: no SONG or --from",
        );
      }
    } else if (!wanted || args.length > 1) {
      throw new ChorusError("BAD_REQUEST", "give one song: chorus play SONG (see chorus songs)");
    }
    const from = secondsFlag(flags, "from") ?? 0;
    const quality = qualityFlag(flags);
    const limit = secondsFlag(flags, "for");
    if (limit !== undefined && limit <= 0) {
      throw new ChorusError("BAD_REQUEST", "--for must be more than 0 seconds");
    }
    const config = loadConfig(flags);
    const output = await outputFor(flags, config, false);
    const credentials = await getCredentials(flags);
    // A script wants an answer: a stream that cannot be got back in 30 s fails the command.
    const player = await startPlayer(config, credentials, output, {
      giveUpMs: 30_000,
      host: !flags["no-host"],
      quality,
    });
    const off = player.onChange((e) => {
      if (e.kind === "message") say(e.message);
    });
    try {
      const hosting = (): void => {
        const id = player.hostId;
        // The id is long (the session's client key): people join by user name.
        if (id) say(`hosting as ${id} (others join with chorus play --join ${player.user})`);
      };
      if (join !== undefined) {
        say(output.description);
        await player.join(join, limit);
        hosting();
        const now = player.status().now;
        say(`joined: "${now?.title}" at ${clock(player.position)}, ${now?.source}`);
        const outcome = await untilDone(player);
        if (outcome === "interrupted") return 130;
        say(`played to ${clock(player.position)}`);
        return 0;
      }
      const song = findSong(await player.songs(), wanted as string);
      if (from >= song.duration) {
        throw new ChorusError(
          "BAD_REQUEST",
          `--from ${from} is past the end of "${song.title}" (${clock(song.duration)})`,
        );
      }
      say(output.description);
      await player.play(song.id, from, limit);
      hosting();
      const codec = player.status().now?.quality;
      const format = song.format ? ` (${describeFormat(song.format)})` : "";
      if (codec && quality !== "lossless") say(`quality ${codec}, decoded here`);
      say(`playing "${song.title}"${format} from ${clock(from)}, ${player.status().now?.source}`);
      const outcome = await untilDone(player);
      if (outcome === "interrupted") return 130;
      const underruns = player.status().underruns;
      say(
        `played to ${clock(player.position)}, ${underruns} underrun${underruns === 1 ? "" : "s"}`,
      );
      return 0;
    } finally {
      off();
      await player.close();
    }
  },
};

/** Waits for the end of the song (or of --for), or Ctrl-C / SIGTERM. */
async function untilDone(player: Player): Promise<"ended" | "interrupted"> {
  let onSignal: (() => void) | undefined;
  const interrupted = new Promise<"interrupted">((resolve) => {
    onSignal = () => resolve("interrupted");
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  });
  try {
    const outcome = await Promise.race([
      player.waitForEnd().then(() => "ended" as const),
      interrupted,
    ]);
    if (outcome !== "ended") await player.stop();
    return outcome;
  } finally {
    if (onSignal) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  }
}
