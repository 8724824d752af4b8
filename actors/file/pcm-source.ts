/**
 * Where a stream reads its PCM: positional reads from a WAV file (the native
 * path), or an ffmpeg decoder kept running from the last frame read. A
 * decoded song yields exactly its listed frames: audio past them is dropped
 * and, where the decoder ends early (MP3 and AAC headers give the length
 * with the encoder's padding), the rest is silence, so the byte count a
 * listener checks at the end always holds.
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { ChorusError } from "../../wire/errors.js";
import type { SongFile } from "./catalogue.js";
import { Decoder } from "./decode.js";
import type { DecodedLayout } from "./tags.js";
import { fileRemoved } from "./removal-check.js";

export interface PcmSource {
  /** The file was removed (or replaced) since the stream opened it. */
  removed(): Promise<boolean>;
  /** `frames` frames from `frame`, or undefined when the file changed under us. */
  read(frame: number, frames: number): Promise<Buffer | undefined>;
  /** Let go of what costs while nothing is read (a paused stream's decoder). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function openSource(song: SongFile, ffmpeg: string | undefined): Promise<PcmSource> {
  let fd: FileHandle;
  try {
    fd = await open(song.path, "r");
  } catch {
    throw new ChorusError("NOT_FOUND", "the song was removed from the music folder");
  }
  const { origin } = song;
  if (origin.kind === "wav") return new WavSource(fd, origin.dataOffset, song.info.blockAlign);
  if (!ffmpeg) {
    await fd.close();
    throw new ChorusError("BAD_REQUEST", "song cannot be played: ffmpeg is not installed here");
  }
  return new DecodedSource(fd, ffmpeg, song.path, origin.layout);
}

class WavSource implements PcmSource {
  constructor(
    private readonly fd: FileHandle,
    private readonly dataOffset: number,
    private readonly blockAlign: number,
  ) {}

  async removed(): Promise<boolean> {
    return fileRemoved(this.fd);
  }

  async read(frame: number, frames: number): Promise<Buffer | undefined> {
    const pcm = Buffer.allocUnsafe(frames * this.blockAlign);
    const offset = this.dataOffset + frame * this.blockAlign;
    const { bytesRead } = await this.fd.read(pcm, 0, pcm.length, offset);
    return bytesRead === pcm.length ? pcm : undefined;
  }

  async idle(): Promise<void> {}

  async close(): Promise<void> {
    await this.fd.close().catch(() => undefined);
  }
}

class DecodedSource implements PcmSource {
  private decoder?: Decoder;
  /** The frame the running decoder yields next. */
  private next = 0;
  private closed = false;

  constructor(
    /** Held open only to notice the file's removal, as for WAV. */
    private readonly fd: FileHandle,
    private readonly ffmpeg: string,
    private readonly file: string,
    private readonly layout: DecodedLayout,
  ) {}

  async removed(): Promise<boolean> {
    return fileRemoved(this.fd);
  }

  async read(frame: number, frames: number): Promise<Buffer | undefined> {
    if (this.closed) return undefined;
    if (!this.decoder || this.next !== frame) {
      void this.decoder?.kill();
      this.decoder = Decoder.start(this.ffmpeg, this.file, this.layout, frame);
      this.next = frame;
    }
    const decoder = this.decoder;
    const bytes = frames * this.layout.blockAlign;
    const pcm = await decoder.read(bytes);
    // Paused (or closed) while we read: that decoder is gone, so start again here.
    if (this.decoder !== decoder) return this.read(frame, frames);
    this.next = frame + frames;
    if (pcm.length === bytes) return pcm;
    // The decoder ended before the listed length: the rest is silence.
    const out = Buffer.alloc(bytes, this.layout.bitDepth === 8 ? 0x80 : 0);
    pcm.copy(out);
    return out;
  }

  async idle(): Promise<void> {
    const decoder = this.decoder;
    this.decoder = undefined;
    await decoder?.kill();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
    await this.fd.close().catch(() => undefined);
  }
}
