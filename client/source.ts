/**
 * Where a song's audio comes from. Today a file node (client/file-source.ts);
 * with P2P (issue 6) a host that relays what it plays. The player library
 * only knows this interface: it opens a stream at a position, gets chunks
 * with their byte offset, steers the stream, and reports where playback is.
 */
import type { PcmFormat } from "./audio/format.js";

export interface SongInfo {
  id: string;
  title: string;
  artist?: string;
  album?: string;
  /** Track number on the album. */
  track?: number;
  file: string;
  /** Seconds. */
  duration: number;
  format?: PcmFormat;
}

export interface AudioChunk {
  /** Which opened stream (and which epoch of it: a seek starts a new one). */
  stream: string;
  epoch: number;
  /** Byte offset of the first byte of `pcm` in the song's PCM data. */
  byte: number;
  pcm: Uint8Array;
}

export type EndReason = "eos" | "stopped" | "session" | "removed" | "node-stopping" | "error";

export interface StreamHandlers {
  chunk(chunk: AudioChunk): void;
  /** The source ended the stream: `eos` after the last chunk, anything else is a failure. */
  end(stream: string, reason: EndReason, message?: string): void;
  /** The source jumped on its own (a P2P host seeked, or changed to `song`): start over at `point`. */
  moved?(stream: string, point: StreamPoint, song?: SongInfo): void;
  /** The source paused or resumed on its own (a P2P host did). */
  paused?(stream: string, paused: boolean): void;
}

export interface StreamPoint {
  epoch: number;
  /** Byte offset the next chunk starts at. */
  byte: number;
}

export interface OpenedStream {
  readonly id: string;
  readonly song: SongInfo;
  readonly format: PcmFormat;
  /** Where the first chunk starts. */
  readonly start: StreamPoint;
  pause(): Promise<void>;
  resume(): Promise<void>;
  seek(seconds: number): Promise<StreamPoint>;
  /** Where playback is (byte offset), so the source can stay a bounded window ahead. */
  position(byte: number): void;
  stop(): Promise<void>;
}

export interface Source {
  readonly kind: "file" | "host";
  /** The node (or host) id: shown on screen. */
  readonly id: string;
  /** "file node file-ab12". */
  readonly label: string;
  /** P2P chain depth of a host source: 0 when the host plays from a file node. */
  readonly depth?: number;
  songs(): Promise<SongInfo[]>;
  open(song: string, fromSeconds: number, handlers: StreamHandlers): Promise<OpenedStream>;
  /** Let go of the source (its claim, subscriptions). */
  close(): Promise<void>;
}
