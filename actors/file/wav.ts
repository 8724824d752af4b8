/**
 * Reading a WAV file's header without loading its audio. We walk the RIFF
 * chunks ourselves with positional reads (only chunk headers and small
 * chunks are read), check every field wavefile would silently accept (a data
 * size past the end of the file, zero channels or rate, odd bit depths,
 * compressed formats), then hand the small chunks to wavefile to decode the
 * format and the INFO tags.
 */
import { open, type FileHandle } from "node:fs/promises";
import wavefile from "wavefile";

/** What the player can play: integer PCM at these depths and ranges. */
export const playable = {
  bitDepths: [8, 16, 24, 32] as readonly number[],
  maxChannels: 8,
  minRate: 8000,
  maxRate: 192_000,
};

export interface WavFormat {
  sampleRate: number;
  channels: number;
  bitDepth: number;
  /** Bytes per frame (one sample of every channel). */
  blockAlign: number;
}

export interface WavInfo extends WavFormat {
  /** Where the PCM data starts in the file, and how many bytes of whole frames it holds. */
  dataOffset: number;
  dataBytes: number;
  frames: number;
  /** Seconds. */
  duration: number;
  /** The INFO tags, when present: INAM, IART, IPRD (album), ITRK ("3" or "3/12"). */
  title?: string;
  artist?: string;
  album?: string;
  track?: number;
}

/** A file that is not a WAV we can play; `message` says why, for one log line or reply. */
export class WavError extends Error {
  override name = "WavError";
}

/** Small chunks we read into memory for wavefile; anything else is skipped. */
const smallChunks = new Set(["fmt ", "LIST", "fact"]);
const maxSmallChunk = 64 * 1024;
const maxChunks = 1000;

const PCM = 1;
const EXTENSIBLE = 0xfffe;
/** The KSDATAFORMAT_SUBTYPE_PCM GUID's tail, shared by all WAVE subformats. */
const guidTail = "000000001000800000aa00389b71";

export async function readWavInfo(file: string): Promise<WavInfo> {
  let handle: FileHandle;
  try {
    handle = await open(file, "r");
  } catch (err) {
    throw new WavError(`cannot open: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return await readFromHandle(handle);
  } finally {
    await handle.close();
  }
}

export async function readFromHandle(handle: FileHandle): Promise<WavInfo> {
  const size = (await handle.stat()).size;
  const head = await readAt(handle, 0, 12);
  if (head.length < 12) throw new WavError("too short to be a WAV file");
  const riff = head.toString("latin1", 0, 4);
  if (riff === "RIFX" || riff === "RF64") throw new WavError(`${riff} container not supported`);
  if (riff !== "RIFF" || head.toString("latin1", 8, 12) !== "WAVE") {
    throw new WavError("not a RIFF/WAVE file");
  }

  const kept: Buffer[] = [];
  let fmt: Buffer | undefined;
  let data: { offset: number; size: number } | undefined;
  let pos = 12;
  for (let n = 0; pos + 8 <= size && n < maxChunks; n++) {
    const header = await readAt(handle, pos, 8);
    const id = header.toString("latin1", 0, 4);
    const chunkSize = header.readUInt32LE(4);
    const body = pos + 8;
    if (id === "data") {
      if (body + chunkSize > size) {
        throw new WavError(
          `data chunk claims ${chunkSize} bytes but only ${size - body} follow (truncated or lying header)`,
        );
      }
      data = { offset: body, size: chunkSize };
    } else if (smallChunks.has(id)) {
      if (chunkSize > maxSmallChunk) throw new WavError(`"${id.trim()}" chunk too large`);
      if (body + chunkSize > size) throw new WavError(`"${id.trim()}" chunk runs past the end`);
      const content = await readAt(handle, body, chunkSize);
      if (id === "fmt ") {
        if (data) throw new WavError("fmt chunk comes after the data chunk");
        fmt = content;
      }
      kept.push(chunkBytes(id, content));
    }
    pos = body + chunkSize + (chunkSize % 2);
  }
  if (!fmt) throw new WavError("no fmt chunk");
  if (!data) throw new WavError("no data chunk");
  const format = checkFormat(fmt);
  const frames = Math.floor(data.size / format.blockAlign);
  if (frames === 0) throw new WavError("no audio in the data chunk");

  // wavefile decodes the fmt fields and INFO tags from the small chunks only.
  const wav = new wavefile.WaveFile();
  wav.fromBuffer(riffOf([...kept, chunkBytes("data", Buffer.alloc(0))]), false);
  const decoded = wav.fmt as { numChannels: number; sampleRate: number; bitsPerSample: number };
  if (
    decoded.numChannels !== format.channels ||
    decoded.sampleRate !== format.sampleRate ||
    decoded.bitsPerSample !== format.bitDepth
  ) {
    throw new WavError("inconsistent fmt chunk");
  }
  const tag = (name: string): string | undefined => {
    const value = wav.getTag(name);
    const clean = typeof value === "string" ? value.replace(/\0+$/, "").trim() : "";
    return clean ? clean.slice(0, 200) : undefined;
  };
  return {
    ...format,
    dataOffset: data.offset,
    dataBytes: frames * format.blockAlign,
    frames,
    duration: frames / format.sampleRate,
    title: tag("INAM"),
    artist: tag("IART"),
    album: tag("IPRD"),
    track: trackNumber(tag("ITRK")),
  };
}

/** A track number from "3", "03" or "3/12"; undefined for anything else. */
export function trackNumber(value: string | undefined): number | undefined {
  const match = value ? /^(\d{1,4})(?:\s*\/\s*\d{1,4})?$/.exec(value) : null;
  const n = match ? Number(match[1]) : 0;
  return n >= 1 ? n : undefined;
}

function checkFormat(fmt: Buffer): WavFormat {
  if (fmt.length < 16) throw new WavError("fmt chunk too short");
  let audioFormat = fmt.readUInt16LE(0);
  const channels = fmt.readUInt16LE(2);
  const sampleRate = fmt.readUInt32LE(4);
  const byteRate = fmt.readUInt32LE(8);
  const blockAlign = fmt.readUInt16LE(12);
  const bitDepth = fmt.readUInt16LE(14);
  if (audioFormat === EXTENSIBLE) {
    if (fmt.length < 40) throw new WavError("extensible fmt chunk too short");
    const tail = fmt.subarray(26, 40).toString("hex");
    if (tail !== guidTail) throw new WavError("unknown extensible subformat");
    audioFormat = fmt.readUInt16LE(24);
  }
  if (audioFormat !== PCM) {
    const names: Record<number, string> = {
      2: "MS ADPCM",
      3: "float",
      6: "A-law",
      7: "mu-law",
      17: "IMA ADPCM",
      85: "MP3",
    };
    const name = names[audioFormat] ?? `format ${audioFormat}`;
    throw new WavError(`${name} encoding is not supported (only integer PCM)`);
  }
  if (channels === 0) throw new WavError("zero channels");
  if (channels > playable.maxChannels) throw new WavError(`${channels} channels not supported`);
  if (sampleRate === 0) throw new WavError("zero sample rate");
  if (sampleRate < playable.minRate || sampleRate > playable.maxRate) {
    throw new WavError(`sample rate ${sampleRate} Hz not supported`);
  }
  if (!playable.bitDepths.includes(bitDepth)) {
    throw new WavError(`${bitDepth}-bit samples not supported (8, 16, 24 or 32)`);
  }
  const expectedAlign = (channels * bitDepth) / 8;
  if (blockAlign !== expectedAlign) {
    throw new WavError(`block align ${blockAlign} does not match ${channels} x ${bitDepth} bits`);
  }
  if (byteRate !== sampleRate * blockAlign) throw new WavError("byte rate does not match");
  return { sampleRate, channels, bitDepth, blockAlign };
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

function chunkBytes(id: string, content: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(id, 0, "latin1");
  header.writeUInt32LE(content.length, 4);
  return Buffer.concat([header, content, Buffer.alloc(content.length % 2)]);
}

function riffOf(chunks: Buffer[]): Buffer {
  const body = Buffer.concat(chunks);
  const header = Buffer.alloc(12);
  header.write("RIFF", 0, "latin1");
  header.writeUInt32LE(body.length + 4, 4);
  header.write("WAVE", 8, "latin1");
  return Buffer.concat([header, body]);
}
