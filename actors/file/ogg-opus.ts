/**
 * Reads an Ogg Opus stream (what ffmpeg's libopus encoder writes) as it
 * grows, into its audio packets. The cache keeps the file as ffmpeg made it
 * (a plain .opus file anyone can play); streams send the packets themselves
 * (see `opus` in wire/file.ts), so this is all of Ogg we need: pages,
 * lacing, the OpusHead header's channel count and pre-skip.
 */
const pageHeaderBytes = 27;

export interface OpusHead {
  channels: number;
  /** Frames at 48 kHz the decoder's output starts with that are not audio. */
  preSkip: number;
}

export class OggOpusReader {
  head?: OpusHead;
  /** Audio packets so far, in order. */
  readonly packets: Buffer[] = [];
  /** Bytes of audio packets so far. */
  audioBytes = 0;
  /** The end-of-stream page was read. */
  ended = false;
  private pending: Buffer = Buffer.alloc(0);
  /** The part of a packet that continues on the next page. */
  private partial: Buffer[] = [];
  /** Packets before the audio: OpusHead and OpusTags. */
  private headerPackets = 0;

  /** Take the next bytes of the stream; throws on bytes that are not Ogg. */
  feed(data: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    let at = 0;
    for (;;) {
      const page = this.pageAt(at);
      if (!page) break;
      at = page.end;
    }
    this.pending = this.pending.subarray(at);
  }

  /** Parse the page at `at` if it is all here; returns where it ends. */
  private pageAt(at: number): { end: number } | undefined {
    const buf = this.pending;
    if (buf.length - at < pageHeaderBytes) return undefined;
    if (buf.toString("latin1", at, at + 4) !== "OggS") throw new Error("not an Ogg page");
    const type = buf[at + 5] ?? 0;
    const segments = buf[at + 26] ?? 0;
    const tableEnd = at + pageHeaderBytes + segments;
    if (buf.length < tableEnd) return undefined;
    let size = 0;
    for (let i = 0; i < segments; i++) size += buf[at + pageHeaderBytes + i] ?? 0;
    if (buf.length < tableEnd + size) return undefined;
    let offset = tableEnd;
    for (let i = 0; i < segments; i++) {
      const lace = buf[at + pageHeaderBytes + i] ?? 0;
      // Copies: the pending buffer is reused, packets outlive it.
      this.partial.push(Buffer.from(buf.subarray(offset, offset + lace)));
      offset += lace;
      if (lace < 255) this.packet(Buffer.concat(this.partial));
    }
    if (type & 0x04) this.ended = true;
    return { end: tableEnd + size };
  }

  private packet(packet: Buffer): void {
    this.partial = [];
    if (this.headerPackets === 0) {
      if (packet.toString("latin1", 0, 8) !== "OpusHead") throw new Error("not Ogg Opus");
      this.head = { channels: packet.readUInt8(9), preSkip: packet.readUInt16LE(10) };
      this.headerPackets++;
      return;
    }
    if (this.headerPackets === 1) {
      this.headerPackets++; // OpusTags
      return;
    }
    this.packets.push(packet);
    this.audioBytes += packet.length;
  }
}
