/**
 * Where the player's audio goes. An output is chosen once per run (and shown
 * once); each song opens a sink in that song's format.
 */
import type { PcmFormat } from "./format.js";

export type OutputKind = "speaker" | "wav" | "stdout" | "null";

/** One song's worth of audio in one format. */
export interface AudioSink {
  /** Resolves when the output has taken the bytes (back-pressure). */
  write(pcm: Uint8Array): Promise<void>;
  /** Flush and finish this song (a WAV file gets its final sizes here). */
  close(): Promise<void>;
}

export interface AudioOutput {
  readonly kind: OutputKind;
  /** One line for the user: what is in use, and why when it is a fallback. */
  readonly description: string;
  open(format: PcmFormat): Promise<AudioSink>;
  close(): Promise<void>;
}
