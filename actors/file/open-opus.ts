/** Opening a lossy stream: the song's encode at the level, from the cache or started now. */
import { open, type FileHandle } from "node:fs/promises";
import { ChorusError } from "../../wire/errors.js";
import { levelBitrate, opusRate, type LossyQuality } from "../../wire/quality.js";
import type { SongFile } from "./catalogue.js";
import { OpusChunkSource } from "./opus-source.js";
import type { TranscodeCache } from "./transcode-cache.js";

export async function openOpusSource(
  song: SongFile,
  level: LossyQuality,
  cache: TranscodeCache | undefined,
): Promise<OpusChunkSource> {
  if (!cache) {
    throw new ChorusError(
      "BAD_REQUEST",
      `quality ${level} needs ffmpeg, which is not installed here`,
    );
  }
  let fd: FileHandle;
  try {
    fd = await open(song.path, "r");
  } catch {
    throw new ChorusError("NOT_FOUND", "the song was removed from the music folder");
  }
  // Opus's own layouts are mono and stereo; more channels are mixed down to stereo.
  const channels = Math.min(2, song.info.channels);
  const bitrate = levelBitrate(level, channels);
  try {
    const encoded = await cache.open({
      file: song.path,
      songId: song.song.id,
      level,
      channels,
      bitrate,
      pipeable: song.song.container !== "m4a",
    });
    const frames = Math.round((song.info.frames * opusRate) / song.info.sampleRate);
    return new OpusChunkSource(
      fd,
      encoded,
      { sampleRate: opusRate, channels, bitDepth: 16 },
      frames,
      { name: "opus", quality: level, bitrate, frames, cached: encoded.cached },
    );
  } catch (err) {
    await fd.close().catch(() => undefined);
    throw err;
  }
}
