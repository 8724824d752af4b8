/**
 * The file node's wire protocol, shared by the node and client/stream.ts.
 *
 *   chorus.file.<node>.songs    {session}                        → Song[]
 *   chorus.file.<node>.play     {session, song, from?, deliver,  → PlayReply
 *                                claim?}
 *   chorus.file.<node>.control  {session, streamId, op, ...}     → ControlReply
 *   chorus.file.<node>.read     {session, song, offset, length}  → ReadReply (the file's
 *                                own bytes, at most readMaxBytes)
 *   chorus.audio.<host>.<id>    chunk messages in JetStream stream CHORUS_AUDIO_<host>,
 *                                pushed by a consumer the node creates to the
 *                                client's `deliver` inbox
 *
 * A chunk message is a 4-byte big-endian header length, a JSON ChunkHeader,
 * then raw PCM exactly as in the file's data chunk (little-endian, 8-bit
 * unsigned, 16/24/32-bit signed) — or, on a lossy stream (a `quality` other
 * than lossless), Opus packets: see `opus` in ChunkHeader.
 */
import { z } from "zod";
import { declare } from "./contract.js";
import { decodeJsonFrame, encodeFrame } from "./frame.js";
import { idSchema, inboxSchema } from "./ids.js";
import { audioFormatSchema, songSchema, type AudioFormat } from "./media.js";
import { qualitySchema } from "./quality.js";
import { sessionSchema } from "./session.js";

/** Audio is cut into chunks of this much play time. */
export const chunkMs = 500;
/** The node stays at most this many chunks ahead of the listener's reported position. */
export const windowChunks = 4;
/** Each machine's file nodes share one audio stream, kept on that machine's broker. */
export const audioStreamName = (hostId: string): string => `CHORUS_AUDIO_${hostId}`;

const id = idSchema;

export const songsRequestSchema = z.object({ session: sessionSchema });

export const playRequestSchema = z.object({
  session: sessionSchema,
  /** A song id or file name from the listing. */
  song: z.string().min(1).max(255),
  /** Start position in seconds. */
  from: z.number().finite().min(0, "from must be 0 or more").optional(),
  /** The client's inbox the chunks are pushed to. */
  deliver: inboxSchema,
  /** A slot the prime reserved at this node. */
  claim: z.string().max(64).optional(),
  /** The stream's quality level; none (an older client) is lossless. */
  quality: qualitySchema.optional(),
});
export type PlayRequest = z.infer<typeof playRequestSchema>;

/** How a lossy stream is coded; its `format` is then the decoded PCM's (48 kHz, 16-bit). */
export const codecSchema = z.object({
  name: z.literal("opus"),
  quality: qualitySchema,
  /** Nominal bits per second of the encoded audio. */
  bitrate: z.number().int().positive(),
  /** Frames of decoded PCM in the whole song (at 48 kHz). */
  frames: z.number().int().min(0),
  /** The song was already in the node's transcode cache (no encoder ran). */
  cached: z.boolean(),
});
export type Codec = z.infer<typeof codecSchema>;

export const playReplySchema = z.object({
  streamId: z.string(),
  song: songSchema,
  /** The PCM the listener plays: the song's own, or what its Opus decodes to. */
  format: audioFormatSchema,
  /** Present on a lossy stream. */
  codec: codecSchema.optional(),
  /** First frame that will arrive, and its epoch. */
  frame: z.number().int().min(0),
  epoch: z.number().int().min(0),
  chunkFrames: z.number().int().positive(),
  windowChunks: z.number().int().positive(),
});
export type PlayReply = z.infer<typeof playReplySchema>;

export const controlRequestSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("pause"), session: sessionSchema, streamId: id }),
  z.object({ op: z.literal("resume"), session: sessionSchema, streamId: id }),
  z.object({ op: z.literal("stop"), session: sessionSchema, streamId: id }),
  z.object({
    op: z.literal("seek"),
    session: sessionSchema,
    streamId: id,
    /** Seconds from the start of the song. */
    at: z.number().finite(),
  }),
  z.object({
    /** Where playback is (frame), so the node can stay a window ahead. */
    op: z.literal("position"),
    session: sessionSchema,
    streamId: id,
    frame: z.number().int().min(0),
    /** The epoch the position belongs to; reports from before a seek are ignored. */
    epoch: z.number().int().min(0).optional(),
  }),
  z.object({
    /**
     * Move the stream to a new session of the same user (the old one's auth
     * node went away and the client logged in again): `session` proves the
     * stream is the caller's, `to` is the new session, verified at its auth node.
     */
    op: z.literal("rebind"),
    session: sessionSchema,
    streamId: id,
    to: sessionSchema,
  }),
  z.object({
    /** "Send again from this frame" (the client saw a gap); starts a new epoch. */
    op: z.literal("sync"),
    session: sessionSchema,
    streamId: id,
    frame: z.number().int().min(0),
  }),
]);
export type ControlRequest = z.infer<typeof controlRequestSchema>;

/** Why a stream ended; `eos` is the normal end of the song. */
export const endReasons = [
  "eos",
  "stopped",
  "session",
  "removed",
  "node-stopping",
  "error",
] as const;
export type EndReason = (typeof endReasons)[number];

/**
 * The node ended the stream on its own: the listener neither stopped it nor
 * has the whole song, so an end marker tells it why.
 */
export function endedByNode(reason: EndReason): boolean {
  return reason !== "stopped" && reason !== "eos";
}

export const controlReplySchema = z.object({
  streamId: z.string(),
  state: z.enum(["playing", "paused", "ended"]),
  /** The listener's position as the node knows it (frame), and the current epoch. */
  frame: z.number().int().min(0),
  epoch: z.number().int().min(0),
  /**
   * With state `ended`: why, as the end marker says. A stream the node ended
   * itself (not stopped, not played to its end) is still answered this way a
   * while after, so a request that overtakes the marker learns why too.
   */
  end: z.enum(endReasons).optional(),
  message: z.string().max(500).optional(),
});
export type ControlReply = z.infer<typeof controlReplySchema>;

export interface ChunkHeader {
  v: 1;
  stream: string;
  /** Chunk number over the stream's life: +1 per chunk. */
  seq: number;
  /** Bumped by every seek or sync; chunks of older epochs are stale. */
  epoch: number;
  /** Position of the first frame, as a frame index and a byte offset into the PCM data. */
  frame: number;
  byte: number;
  /** Play time of the first frame, seconds. */
  time: number;
  frames: number;
  format: AudioFormat;
  /** Present on the last message of a stream: why it ended (no PCM follows). */
  end?: EndReason;
  message?: string;
  /**
   * On a lossy stream: the payload is Opus packets of 20 ms each, every one
   * a 2-byte big-endian length then the packet, starting at packet number
   * `packet` of the song's encode. Decoded one after the other they give
   * PCM from which the first `skip` frames are dropped (the encoder's
   * pre-skip, the pre-roll before a seek point, which primes the decoder)
   * and of which `frames` are kept; `frame` and `byte` are positions in the
   * decoded PCM. A chunk whose `packet` does not follow the previous one's
   * starts a fresh decoder. Raw packets rather than Ogg pages: an Ogg page
   * holds up to a second, so a seek would cost a page's worth of audio, and
   * the position of each packet is implied by its number (packet n starts at
   * n × 960 frames before the pre-skip), so nothing else needs to travel.
   */
  opus?: { packet: number; skip: number };
}

export function encodeChunk(header: ChunkHeader, pcm: Uint8Array): Uint8Array {
  return encodeFrame(header, pcm);
}

export function decodeChunk(data: Uint8Array): { header: ChunkHeader; pcm: Uint8Array } {
  const { header, payload } = decodeJsonFrame<ChunkHeader>(data);
  if (header.v !== 1) throw new Error(`unknown chunk version ${String(header.v)}`);
  return { header, pcm: payload };
}

export const fileSongs = declare({
  name: "file-songs",
  subject: "chorus.file.<id>.songs",
  request: songsRequestSchema,
  reply: z.array(songSchema),
  callers: "listener",
  publishers: "logged-in clients",
  listeners: "that file node",
  what: "the songs of its music folder (session checked at its auth node)",
});

export const filePlay = declare({
  name: "file-play",
  subject: "chorus.file.<id>.play",
  request: playRequestSchema,
  reply: playReplySchema,
  callers: "listener",
  publishers: "logged-in clients",
  listeners: "that file node",
  what: "stream a song from a position to the client's inbox; answers the stream id",
});

export const fileControl = declare({
  name: "file-control",
  subject: "chorus.file.<id>.control",
  request: controlRequestSchema,
  reply: controlReplySchema,
  callers: "listener",
  maxBody: 4096,
  publishers: "the listening client",
  listeners: "that file node",
  what: "pause, resume, seek, stop, sync, position reports, rebind to a new session (the stream's own session only)",
});

/** Largest byte range one read answers (its base64 stays well under max_payload). */
export const readMaxBytes = 256 * 1024;

export const readRequestSchema = z.object({
  session: sessionSchema,
  /** A song id or file name from the listing. */
  song: z.string().min(1).max(255),
  /** First byte of the original file to read. */
  offset: z.number().int().min(0),
  /** Bytes wanted; fewer come back at the end of the file. */
  length: z.number().int().min(1).max(readMaxBytes),
});
export type ReadRequest = z.infer<typeof readRequestSchema>;

export const readReplySchema = z.object({
  /** The file's size now (HTTP Range needs it). */
  size: z.number().int().min(0),
  offset: z.number().int().min(0),
  /** The bytes, base64; empty at or past the end of the file. */
  data: z.string(),
});
export type ReadReply = z.infer<typeof readReplySchema>;

/** Embedded art bigger than this is not handed out (a message holds 1 MB, base64 grows it). */
export const coverMaxBytes = 700 * 1024;

export const coverRequestSchema = z.object({
  session: sessionSchema,
  /** A song id or file name from the listing. */
  song: z.string().min(1).max(255),
});
export type CoverRequest = z.infer<typeof coverRequestSchema>;

export const coverReplySchema = z.object({
  /** The image's media type as the file names it: image/jpeg, image/png. */
  mime: z.string().min(1).max(100),
  /** The image, base64. */
  data: z.string(),
});
export type CoverReply = z.infer<typeof coverReplySchema>;

export const fileCover = declare({
  name: "file-cover",
  subject: "chorus.file.<id>.cover",
  request: coverRequestSchema,
  reply: coverReplySchema,
  callers: "listener",
  publishers: "logged-in clients (the HTTP gateway)",
  listeners: "that file node",
  what: "a song's embedded cover art, the front cover first (NOT_FOUND: none; session checked at its auth node)",
});

export const fileRead = declare({
  name: "file-read",
  subject: "chorus.file.<id>.read",
  request: readRequestSchema,
  reply: readReplySchema,
  callers: "listener",
  publishers: "logged-in clients (the HTTP gateway)",
  listeners: "that file node",
  what: "a byte range of a song's original file, at most 256 KiB (session checked at its auth node)",
});
