/**
 * What a stream publishes, chunk by chunk: the song's own PCM (lossless,
 * pcm-source.ts) or its Opus packets at a quality level (opus-source.ts).
 * Positions are frames of the PCM the listener plays.
 */
import type { Codec } from "../../wire/file.js";
import type { AudioFormat } from "../../wire/media.js";
import type { PcmSource } from "./pcm-source.js";

export interface Chunk {
  /** Frames of PCM it plays for (an Opus chunk ends on a packet boundary). */
  frames: number;
  payload: Buffer;
  opus?: { packet: number; skip: number };
}

export interface ChunkSource {
  /** The PCM the listener plays. */
  readonly format: AudioFormat;
  /** Frames in the whole song, in that format. */
  readonly frames: number;
  readonly codec?: Codec;
  removed(): Promise<boolean>;
  /**
   * About `frames` frames from `frame` (`fresh`: the first of an epoch),
   * or undefined when the file changed under us.
   */
  chunk(frame: number, frames: number, fresh: boolean): Promise<Chunk | undefined>;
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** The lossless path: the file's PCM exactly, as before quality levels. */
export class PcmChunkSource implements ChunkSource {
  constructor(
    private readonly source: PcmSource,
    readonly format: AudioFormat,
    readonly frames: number,
  ) {}

  removed(): Promise<boolean> {
    return this.source.removed();
  }

  async chunk(frame: number, frames: number): Promise<Chunk | undefined> {
    const payload = await this.source.read(frame, frames);
    return payload && { frames, payload };
  }

  idle(): Promise<void> {
    return this.source.idle();
  }

  close(): Promise<void> {
    return this.source.close();
  }
}
