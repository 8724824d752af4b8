/**
 * The file node's wire protocol, shared by the node and client/stream.ts.
 *
 *   chorus.file.<node>.songs    {session}                        → Song[]
 *   chorus.file.<node>.play     {session, song, from?, deliver,  → PlayReply
 *                                claim?}
 *   chorus.file.<node>.control  {session, streamId, op, ...}     → ControlReply
 *   chorus.audio.<host>.<id>    chunk messages in JetStream stream CHORUS_AUDIO_<host>,
 *                                pushed by a consumer the node creates to the
 *                                client's `deliver` inbox
 *
 * A chunk message is a 4-byte big-endian header length, a JSON ChunkHeader,
 * then raw PCM exactly as in the file's data chunk (little-endian, 8-bit
 * unsigned, 16/24/32-bit signed).
 */
import { z } from "zod";
import type { Song } from "../actors/file/catalogue.js";

/** Audio is cut into chunks of this much play time. */
export const chunkMs = 500;
/** The node stays at most this many chunks ahead of the listener's reported position. */
export const windowChunks = 4;
/** The JetStream stream every file node publishes chunks into. */
/** Each machine's file nodes share one audio stream, kept on that machine's broker. */
export const audioStreamName = (hostId: string): string => `CHORUS_AUDIO_${hostId}`;

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be an id ([A-Za-z0-9_-])");

export const sessionSchema = z.object({
  authNode: id,
  sessionId: z.string().min(1).max(128),
  token: z.string().min(1).max(512),
});
export type Session = z.infer<typeof sessionSchema>;

export const songsRequestSchema = z.object({ session: sessionSchema });

export const playRequestSchema = z.object({
  session: sessionSchema,
  /** A song id or file name from the listing. */
  song: z.string().min(1).max(255),
  /** Start position in seconds. */
  from: z.number().finite().min(0, "from must be 0 or more").optional(),
  /** The client's inbox the chunks are pushed to. */
  deliver: z.string().regex(/^_INBOX\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "must be an _INBOX"),
  /** A slot the prime reserved at this node. */
  claim: z.string().max(64).optional(),
});
export type PlayRequest = z.infer<typeof playRequestSchema>;

export interface AudioFormat {
  sampleRate: number;
  channels: number;
  bitDepth: number;
  blockAlign: number;
}

export interface PlayReply {
  streamId: string;
  song: Song;
  format: AudioFormat;
  /** First frame that will arrive, and its epoch. */
  frame: number;
  epoch: number;
  chunkFrames: number;
  windowChunks: number;
}

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
    /** "Send again from this frame" (the client saw a gap); starts a new epoch. */
    op: z.literal("sync"),
    session: sessionSchema,
    streamId: id,
    frame: z.number().int().min(0),
  }),
]);
export type ControlRequest = z.infer<typeof controlRequestSchema>;

export interface ControlReply {
  streamId: string;
  state: "playing" | "paused" | "ended";
  /** The listener's position as the node knows it (frame), and the current epoch. */
  frame: number;
  epoch: number;
}

/** Why a stream ended; `eos` is the normal end of the song. */
export type EndReason = "eos" | "stopped" | "session" | "removed" | "node-stopping" | "error";

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
}

export function encodeChunk(header: ChunkHeader, pcm: Uint8Array): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.allocUnsafe(4 + json.length + pcm.length);
  out.writeUInt32BE(json.length, 0);
  json.copy(out, 4);
  out.set(pcm, 4 + json.length);
  return out;
}

export function decodeChunk(data: Uint8Array): { header: ChunkHeader; pcm: Uint8Array } {
  if (data.length < 4) throw new Error("chunk too short");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const length = view.getUint32(0);
  if (4 + length > data.length) throw new Error("chunk header runs past the message");
  const header = JSON.parse(
    Buffer.from(data.buffer, data.byteOffset + 4, length).toString(),
  ) as ChunkHeader;
  if (header.v !== 1) throw new Error(`unknown chunk version ${String(header.v)}`);
  return { header, pcm: data.subarray(4 + length) };
}
