/**
 * Decoding a lossy stream's Opus packets (wire/file.ts, `opus` in a chunk
 * header) back into the 16-bit 48 kHz PCM the player plays, so pause, seek,
 * the position and the end work exactly as for lossless.
 *
 * Why opusscript: libopus 1.4 itself compiled to WebAssembly, shipped in the
 * package (nothing downloaded or built at install; works on Node 20), MIT,
 * and it decodes raw packets synchronously — a chunk is decoded in the same
 * turn it arrives, no child process per stream. ffmpeg would need an Ogg
 * stream rebuilt around the packets and a process per listener;
 * opus-decoder/ogg-opus-decoder are wasm too but asynchronous (workers).
 */
import OpusScript from "opusscript";

/** Opus's largest frame, 120 ms at 48 kHz: a bound on one packet's output. */
const maxPacketFrames = 5760;

export class OpusStreamDecoder {
  private decoder?: OpusScript;
  /** The packet number the next chunk continues with, when it is a continuation. */
  private nextPacket = -1;

  constructor(private readonly channels: number) {}

  /**
   * One chunk: its packets decoded, `skip` frames dropped, exactly `frames`
   * frames kept (silence where the encode ended short). A chunk that does
   * not continue the last one starts a fresh decoder (a seek, a resend).
   */
  decode(payload: Uint8Array, opus: { packet: number; skip: number }, frames: number): Buffer {
    const frameBytes = 2 * this.channels;
    if (!this.decoder || opus.packet !== this.nextPacket) this.reset();
    const decoder = this.decoder as OpusScript;
    const out = Buffer.alloc(frames * frameBytes);
    let drop = opus.skip * frameBytes;
    let at = 0;
    let offset = 0;
    let packets = 0;
    const data = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    while (offset + 2 <= data.length) {
      const length = data.readUInt16BE(offset);
      const packet = data.subarray(offset + 2, offset + 2 + length);
      offset += 2 + length;
      packets++;
      let pcm = decoder.decode(packet);
      if (pcm.length > maxPacketFrames * frameBytes) throw new Error("Opus packet too long");
      if (drop > 0) {
        const dropped = Math.min(drop, pcm.length);
        drop -= dropped;
        pcm = pcm.subarray(dropped);
      }
      const room = out.length - at;
      if (room <= 0) continue;
      pcm.copy(out, at, 0, Math.min(room, pcm.length));
      at += Math.min(room, pcm.length);
    }
    this.nextPacket = opus.packet + packets;
    return out;
  }

  /** Free the decoder's wasm memory (the stream ended). */
  close(): void {
    this.decoder?.delete();
    this.decoder = undefined;
  }

  private reset(): void {
    this.decoder?.delete();
    this.decoder = new OpusScript(48_000, this.channels, OpusScript.Application.AUDIO);
  }
}
