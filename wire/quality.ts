/**
 * Quality levels of a stream. `lossless` is the song's own PCM, exactly as
 * in the file (the default, and what a client that names no level gets);
 * the others are Opus at a fixed bitrate, encoded once per song and level
 * on the file node and decoded by the client.
 *
 * Why these bitrates: Opus is transparent for most music at about 128
 * kbit/s stereo (Navidrome's default); 256k leaves headroom for critical
 * material, 64k is still clean music on a mobile link. Opus, not Vorbis or
 * AAC: 20 ms packets make seeks land within 20 ms and Debian's ffmpeg has
 * libopus.
 */
import { z } from "zod";

export const qualityLevels = ["lossless", "high", "normal", "low"] as const;
export type Quality = (typeof qualityLevels)[number];
export type LossyQuality = Exclude<Quality, "lossless">;
export const qualitySchema = z.enum(qualityLevels);

/** Opus bitrate of each lossy level, bits per second (stereo; mono songs get half). */
export const opusBitrate: Record<LossyQuality, number> = {
  high: 256_000,
  normal: 128_000,
  low: 64_000,
};

/** Opus always decodes at 48 kHz; each packet is 20 ms of it. */
export const opusRate = 48_000;
export const opusPacketFrames = 960;

/** The bitrate a level streams at for a song with `channels` channels (mono needs half). */
export function levelBitrate(level: LossyQuality, channels: number): number {
  return channels === 1 ? opusBitrate[level] / 2 : opusBitrate[level];
}

export function isLossy(level: Quality | undefined): level is LossyQuality {
  return level !== undefined && level !== "lossless";
}

/** "normal (Opus 128 kbit/s)": how the screen and the CLI name a level. */
export function describeQuality(level: Quality, bitrate?: number): string {
  if (level === "lossless") return "lossless (PCM)";
  return `${level} (Opus ${Math.round((bitrate ?? opusBitrate[level]) / 1000)} kbit/s)`;
}
