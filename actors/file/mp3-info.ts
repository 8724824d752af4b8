/**
 * An MP3's Xing/Info header and the LAME tag after it (written by LAME and
 * by ffmpeg's encoder): the frame count, the stream's size in bytes, and
 * the encoder delay and padding. With them an MP3's length is exact to the
 * sample (gapless: frames x samples per frame - delay - padding, as ffmpeg
 * decodes it), and a copy cut short shows: fewer bytes than the header says.
 * music-metadata reads the frame count but not the delay or the byte count.
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";

export interface XingInfo {
  /** Audio samples per channel, as ffmpeg decodes them (gapless when the LAME tag is there). */
  samples?: number;
  /** Bytes of the MPEG stream from its first frame, as the header counts them. */
  streamBytes?: number;
  /** Bytes from the first frame to the end of the file. */
  available: number;
}

const firstFrameSearch = 4096;

export async function readXing(file: string): Promise<XingInfo | undefined> {
  const fh = await open(file, "r");
  try {
    return await readFrom(fh);
  } finally {
    await fh.close();
  }
}

async function readFrom(fh: FileHandle): Promise<XingInfo | undefined> {
  const size = (await fh.stat()).size;
  const id3 = await readAt(fh, 0, 10);
  let start = 0;
  if (id3.length === 10 && id3.toString("latin1", 0, 3) === "ID3") {
    const tag =
      ((id3[6] ?? 0) << 21) | ((id3[7] ?? 0) << 14) | ((id3[8] ?? 0) << 7) | (id3[9] ?? 0);
    const footer = ((id3[5] ?? 0) & 0x10) !== 0 ? 10 : 0;
    start = 10 + tag + footer;
  }
  const head = await readAt(fh, start, firstFrameSearch);
  let sync = -1;
  for (let i = 0; i + 4 <= head.length; i++) {
    if (head[i] === 0xff && ((head[i + 1] ?? 0) & 0xe0) === 0xe0) {
      sync = i;
      break;
    }
  }
  if (sync < 0) return undefined;
  const b1 = head[sync + 1] ?? 0;
  const b3 = head[sync + 3] ?? 0;
  const version = (b1 >> 3) & 3; // 3: MPEG 1, 2: MPEG 2, 0: MPEG 2.5
  const layer = (b1 >> 1) & 3; // 1: Layer III, 2: Layer II
  const mono = b3 >> 6 === 3;
  const mpeg1 = version === 3;
  const sideInfo = mpeg1 ? (mono ? 17 : 32) : mono ? 9 : 17;
  const samplesPerFrame = layer === 1 && !mpeg1 ? 576 : 1152;
  const at = sync + 4 + sideInfo;
  const id = head.toString("latin1", at, at + 4);
  const available = size - start - sync;
  if (id !== "Xing" && id !== "Info") return { available };
  const flags = head.readUInt32BE(at + 4);
  let p = at + 8;
  let frames: number | undefined;
  let streamBytes: number | undefined;
  if (flags & 1) {
    frames = head.readUInt32BE(p);
    p += 4;
  }
  if (flags & 2) {
    streamBytes = head.readUInt32BE(p);
    p += 4;
  }
  if (flags & 4) p += 100;
  if (flags & 8) p += 4;
  if (frames === undefined) return { available, streamBytes };
  let samples = frames * samplesPerFrame;
  const encoder = head.toString("latin1", p, p + 4);
  if ((encoder === "LAME" || encoder === "Lavc" || encoder === "Lavf") && p + 24 <= head.length) {
    const d0 = head[p + 21] ?? 0;
    const d1 = head[p + 22] ?? 0;
    const d2 = head[p + 23] ?? 0;
    const delay = (d0 << 4) | (d1 >> 4);
    const padding = ((d1 & 0x0f) << 8) | d2;
    if (delay + padding < samples) samples -= delay + padding;
  }
  return { samples, streamBytes, available };
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}
