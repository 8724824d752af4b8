/**
 * Does a FLAC file end where its STREAMINFO says? We find its last frame
 * (a frame header whose CRC-8 holds, followed by data whose CRC-16 holds
 * up to the end of the file) and check that it ends at the total sample
 * count. A few kilobytes read and two CRCs: cheap enough for every file of
 * a library, where starting ffmpeg for each would cost ~50 ms apiece.
 */
import { open } from "node:fs/promises";

/** Longest last frame we look for: larger frames (rare) are left to ffmpeg. */
const maxTail = 256 * 1024;

interface StreamInfo {
  minBlock: number;
  maxBlock: number;
  totalSamples: number;
  sampleRate: number;
}

/** Undefined when the last frame is whole and ends the song; else why not (or why we cannot tell). */
export async function flacEndProblem(file: string): Promise<string | undefined> {
  const fh = await open(file, "r");
  try {
    const size = (await fh.stat()).size;
    const read = async (position: number, length: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - position)));
      const { bytesRead } = await fh.read(buffer, 0, buffer.length, position);
      return buffer.subarray(0, bytesRead);
    };
    let start = 0;
    const head = await read(0, 10);
    if (head.toString("latin1", 0, 3) === "ID3") {
      const tag = ((head[6] ?? 0) << 21) | ((head[7] ?? 0) << 14) | ((head[8] ?? 0) << 7);
      start = 10 + tag + (head[9] ?? 0);
    }
    const info = streamInfo(await read(start, 42));
    if (!info) return "no STREAMINFO block";
    if (info.totalSamples === 0) return "its length is not in its header";
    let end = size;
    // An ID3v1 tag may follow the last frame.
    if (size >= 128 && (await read(size - 128, 3)).toString("latin1") === "TAG") end -= 128;
    const tailStart = Math.max(start, end - maxTail);
    const tail = await read(tailStart, end - tailStart);
    const last = lastFrame(tail, info);
    if (last === undefined) return "no whole frame at its end (cut short or corrupt)";
    if (last !== info.totalSamples) {
      const seconds = (n: number): string => (n / info.sampleRate).toFixed(2);
      return `truncated: its last frame ends at ${seconds(last)} s of the ${seconds(info.totalSamples)} s its header promises`;
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

function streamInfo(b: Buffer): StreamInfo | undefined {
  if (b.length < 42 || b.toString("latin1", 0, 4) !== "fLaC") return undefined;
  // The first metadata block must be STREAMINFO (type 0), 34 bytes.
  if (((b[4] ?? 0) & 0x7f) !== 0) return undefined;
  const s = b.subarray(8, 42);
  const sampleRate = ((s[10] ?? 0) << 12) | ((s[11] ?? 0) << 4) | ((s[12] ?? 0) >> 4);
  const high = (s[13] ?? 0) & 0x0f;
  const totalSamples = high * 2 ** 32 + s.readUInt32BE(14);
  return { minBlock: s.readUInt16BE(0), maxBlock: s.readUInt16BE(2), totalSamples, sampleRate };
}

/** Frame headers (CRC-8 valid) tried from the end: one may be a chance match inside audio data. */
const maxCandidates = 4;

/** The sample the last whole frame in `tail` ends at, or undefined when there is none. */
function lastFrame(tail: Buffer, info: StreamInfo): number | undefined {
  if (tail.length < 8) return undefined;
  const crc16Stored = tail.readUInt16BE(tail.length - 2);
  let tried = 0;
  for (let p = tail.length - 8; p >= 0 && tried < maxCandidates; p--) {
    if (tail[p] !== 0xff || ((tail[p + 1] ?? 0) & 0xfe) !== 0xf8) continue;
    const header = frameHeader(tail, p, info);
    if (!header) continue;
    tried++;
    if (crc16(tail, p, tail.length - 2) === crc16Stored) return header.first + header.blockSize;
  }
  return undefined;
}

function frameHeader(
  b: Buffer,
  p: number,
  info: StreamInfo,
): { first: number; blockSize: number } | undefined {
  const variable = ((b[p + 1] ?? 0) & 1) === 1;
  const blockCode = (b[p + 2] ?? 0) >> 4;
  const rateCode = (b[p + 2] ?? 0) & 0x0f;
  if (blockCode === 0 || rateCode === 15) return undefined;
  if (((b[p + 3] ?? 0) & 1) !== 0) return undefined;
  // The frame (or sample) number, UTF-8 style: up to 7 bytes.
  let q = p + 4;
  const lead = b[q] ?? 0xff;
  let extra = 0;
  let value: number;
  if (lead < 0x80) value = lead;
  else {
    let mask = 0x40;
    while (lead & mask && extra < 6) {
      extra++;
      mask >>= 1;
    }
    if (extra === 0 || lead === 0xff) return undefined;
    value = lead & (mask - 1);
    for (let i = 1; i <= extra; i++) {
      const c = b[q + i] ?? 0;
      if ((c & 0xc0) !== 0x80) return undefined;
      value = value * 64 + (c & 0x3f);
    }
  }
  q += 1 + extra;
  let blockSize: number;
  if (blockCode === 1) blockSize = 192;
  else if (blockCode <= 5) blockSize = 576 * 2 ** (blockCode - 2);
  else if (blockCode === 6) blockSize = (b[q++] ?? 0) + 1;
  else if (blockCode === 7) {
    blockSize = (((b[q] ?? 0) << 8) | (b[q + 1] ?? 0)) + 1;
    q += 2;
  } else blockSize = 256 * 2 ** (blockCode - 8);
  if (rateCode === 12) q += 1;
  else if (rateCode === 13 || rateCode === 14) q += 2;
  if (q >= b.length || crc8(b, p, q) !== b[q]) return undefined;
  // Fixed-size blocks number frames; each but the last holds the stream's block size.
  const first = variable ? value : value * info.maxBlock;
  return { first, blockSize };
}

function crc8(b: Buffer, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) {
    crc ^= b[i] ?? 0;
    for (let k = 0; k < 8; k++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

const crc16Table = (() => {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let crc = n << 8;
    for (let k = 0; k < 8; k++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x8005) & 0xffff : (crc << 1) & 0xffff;
    table[n] = crc;
  }
  return table;
})();

function crc16(b: Buffer, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) {
    crc = ((crc << 8) & 0xffff) ^ (crc16Table[((crc >> 8) ^ (b[i] ?? 0)) & 0xff] ?? 0);
  }
  return crc;
}
