/**
 * A lossy stream's chunks: the Opus packets of the song's encode at its
 * level (transcode-cache.ts) that cover the frames asked for. Packet n
 * decodes to 48 kHz frames [n·960 − preSkip, (n+1)·960 − preSkip), so a
 * position is a packet and an offset into it: a start or seek lands on the
 * exact frame (the client drops `skip` frames), and the first chunk of an
 * epoch carries 4 packets (80 ms, libopus's advice) before the seek point
 * to prime the decoder.
 */
import type { FileHandle } from "node:fs/promises";
import type { Codec } from "../../wire/file.js";
import type { AudioFormat } from "../../wire/media.js";
import { opusPacketFrames } from "../../wire/quality.js";
import type { Chunk, ChunkSource } from "./chunk-source.js";
import type { EncodedSong } from "./transcode-cache.js";
import { fileRemoved } from "./removal-check.js";

const prerollPackets = 4;

export class OpusChunkSource implements ChunkSource {
  private closed = false;

  constructor(
    /** Held open only to notice the file's removal, as for PCM. */
    private readonly fd: FileHandle,
    private readonly encoded: EncodedSong,
    readonly format: AudioFormat,
    readonly frames: number,
    readonly codec: Codec,
  ) {}

  async removed(): Promise<boolean> {
    return fileRemoved(this.fd);
  }

  async chunk(frame: number, frames: number, fresh: boolean): Promise<Chunk | undefined> {
    if (this.closed) return undefined;
    const { encoded } = this;
    // OpusHead comes before any audio packet.
    await encoded.waitFor(1);
    const preSkip = encoded.head?.preSkip ?? 0;
    const at = frame + preSkip;
    const first = Math.floor(at / opusPacketFrames);
    const onBoundary = at % opusPacketFrames === 0;
    const p0 = fresh || !onBoundary ? Math.max(0, first - prerollPackets) : first;
    const end = Math.min(frame + frames, this.frames);
    let p1 = Math.ceil((end + preSkip) / opusPacketFrames);
    await encoded.waitFor(p1);
    if (encoded.complete) p1 = Math.min(p1, encoded.packets.length);
    const upTo = p1 * opusPacketFrames - preSkip;
    // The encode ended short of the listed length: the rest is silence (no packets).
    const kept = upTo > frame ? Math.min(upTo, this.frames) - frame : this.frames - frame;
    const parts: Buffer[] = [];
    for (let p = p0; p < p1 && upTo > frame; p++) {
      const packet = encoded.packets[p] as Buffer;
      const length = Buffer.allocUnsafe(2);
      length.writeUInt16BE(packet.length);
      parts.push(length, packet);
    }
    const packet = upTo > frame ? p0 : p1;
    const skip = upTo > frame ? at - p0 * opusPacketFrames : 0;
    return { frames: kept, payload: Buffer.concat(parts), opus: { packet, skip } };
  }

  async idle(): Promise<void> {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.encoded.release();
    await this.fd.close().catch(() => undefined);
  }
}
