/** The one shape of a song and of an audio format, wherever they travel. */
import { z } from "zod";

/**
 * Interleaved little-endian PCM: signed integers (unsigned for 8-bit, as in
 * WAV) or, with `float`, 32-bit IEEE floats.
 */
export const audioFormatSchema = z.object({
  sampleRate: z.number().int().min(1000).max(384_000),
  channels: z.number().int().min(1).max(16),
  bitDepth: z.union([z.literal(8), z.literal(16), z.literal(24), z.literal(32)]),
  float: z.boolean().optional(),
});
export type AudioFormat = z.infer<typeof audioFormatSchema>;

export function frameBytes(format: AudioFormat): number {
  return (format.bitDepth / 8) * format.channels;
}

const text = z.string().max(512);

export const songSchema = z.object({
  /** Stable id derived from the file name: safe in subjects and URLs. */
  id: z.string().min(1).max(255),
  title: text,
  artist: text.optional(),
  album: text.optional(),
  albumArtist: text.optional(),
  /** Track number on the album (1, 2, ...). */
  track: z.number().int().min(0).max(100_000).optional(),
  /** Disc number of a multi-disc album (1, 2, ...). */
  disc: z.number().int().min(0).max(1000).optional(),
  year: z.number().int().min(0).max(9999).optional(),
  genre: text.optional(),
  /** The file's container as its name ends: wav, flac, mp3, ogg, opus, m4a. */
  container: z.string().max(16).optional(),
  /** Bytes of the file itself (its encoded size; `bytes` is the decoded PCM's). */
  fileBytes: z.number().int().min(0).optional(),
  /** Whether the file carries embedded cover art. */
  cover: z.boolean().optional(),
  /** The file name inside its music folder. */
  file: text,
  /** Seconds. */
  duration: z.number().finite().min(0).max(86_400),
  format: audioFormatSchema,
  /** Bytes of PCM. */
  bytes: z.number().int().min(0),
});
export type Song = z.infer<typeof songSchema>;

/**
 * The containers a music folder may hold, by how a file's name ends. WAV is
 * read natively; the others are decoded on the file node (ffmpeg).
 */
export const containers = ["wav", "flac", "mp3", "ogg", "opus", "m4a"] as const;
export type Container = (typeof containers)[number];
/** Other endings people's libraries use for the same containers. */
const aliases: Record<string, Container> = { oga: "ogg", wave: "wav" };

/** The container a file name says it holds, or undefined for anything else. */
export function containerOf(name: string): Container | undefined {
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const ext = name.slice(dot + 1).toLowerCase();
  return (containers as readonly string[]).includes(ext) ? (ext as Container) : aliases[ext];
}
