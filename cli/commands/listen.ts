/**
 * What the listener commands share: the output flag, logging in, and
 * resolving a song name the way a user types it.
 */
import { qualityLevels, qualitySchema, type Quality } from "../../wire/quality.js";
import path from "node:path";
import type { ChorusConfig } from "../../actors/runtime/config.js";
import { ChorusError } from "../../wire/errors.js";
import { chooseOutput } from "../../client/audio/choose.js";
import type { AudioOutput } from "../../client/audio/output.js";
import type { FlagValues } from "../command.js";
import { getCredentials, type Credentials } from "../credentials.js";
import { FileDeviceCookies } from "../../client/device-cookies.js";
import { findFileSource } from "../../client/file-source.js";
import { Player, type PlayerOptions } from "../../client/player.js";
import type { SongInfo } from "../../client/source.js";

export async function outputFor(
  flags: FlagValues,
  config: ChorusConfig,
  interactive: boolean,
): Promise<AudioOutput> {
  const spec = typeof flags.out === "string" ? flags.out : undefined;
  return chooseOutput(spec, {
    fallbackWav: path.join(config.data, interactive ? "player.wav" : "play.wav"),
    stdoutAllowed: !interactive,
    stdoutIsTty: Boolean(process.stdout.isTTY),
  });
}

export async function startPlayer(
  config: ChorusConfig,
  credentials: Credentials,
  output: AudioOutput,
  extra: Partial<PlayerOptions> = {},
): Promise<Player> {
  // Device cookies persist in the data folder: this machine stays trusted across runs.
  const devices = new FileDeviceCookies(path.join(config.data, "device-cookies.json"));
  return Player.start({
    config,
    credentials,
    output,
    findSource: findFileSource,
    devices,
    ...extra,
  });
}

export async function loginFromFlags(
  flags: FlagValues,
  config: ChorusConfig,
  output: AudioOutput,
  extra: Partial<PlayerOptions> = {},
): Promise<Player> {
  return startPlayer(config, await getCredentials(flags), output, extra);
}

/** The --quality flag: a level, lossless when absent; a readable error otherwise. */
export function qualityFlag(flags: FlagValues): Quality {
  const raw = flags.quality;
  if (raw === undefined) return "lossless";
  const parsed = qualitySchema.safeParse(typeof raw === "string" ? raw.trim().toLowerCase() : raw);
  if (!parsed.success) {
    throw new ChorusError(
      "BAD_REQUEST",
      `--quality must be one of ${qualityLevels.join(", ")}, got "${String(raw)}"`,
    );
  }
  return parsed.data;
}

/** A song by id, file name or title (case-insensitive); one readable error otherwise. */
export function findSong(songs: SongInfo[], wanted: string): SongInfo {
  const lower = wanted.toLowerCase();
  const found =
    songs.find((s) => s.id === wanted) ??
    songs.find((s) => s.file === wanted) ??
    songs.find((s) => s.title.toLowerCase() === lower) ??
    songs.find((s) => s.file.toLowerCase() === lower);
  if (!found) {
    throw new ChorusError("NOT_FOUND", `unknown song "${wanted}" (chorus songs lists them)`);
  }
  return found;
}

/** A number of seconds from a flag, or undefined; a readable error when it is not one. */
export function secondsFlag(flags: FlagValues, name: string): number | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const value = typeof raw === "string" && /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isFinite(value)) {
    throw new ChorusError(
      "BAD_REQUEST",
      `--${name} must be a number of seconds, got "${String(raw)}"`,
    );
  }
  return value;
}
