/**
 * Helpers for the file node tests: real WAV files (the demo songs, made-up
 * ones), and the PCM a song should deliver.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import wavefile from "wavefile";
import { readWavInfo } from "../actors/file/wav.js";
import { repoRoot } from "./helpers/system.js";

export const demoFolder = path.join(repoRoot, "music");

/**
 * The short demo songs committed in music/ (scripts/make-music.mjs). Set-up
 * also synthesises long ones there (scripts/demo-songs.mjs, not committed);
 * tests use only these, whether the long ones exist or not.
 */
export const committedDemoSongs = [
  "chorus-theme.wav",
  "deep-24bit-drone.wav",
  "eight-bit-dance.wav",
  "mono-lullaby.wav",
];

export function demoSongs(): string[] {
  const present = new Set(readdirSync(demoFolder));
  const missing = committedDemoSongs.filter((f) => !present.has(f));
  if (missing.length) throw new Error(`committed demo songs missing: ${missing.join(", ")}`);
  return [...committedDemoSongs];
}

export function copyDemoMusic(folder: string): string[] {
  mkdirSync(folder, { recursive: true });
  const files = demoSongs();
  for (const f of files) copyFileSync(path.join(demoFolder, f), path.join(folder, f));
  return files;
}

/** A tone of `seconds` in the given format, with a distinct value per frame (so offsets show). */
export function toneWav(
  seconds: number,
  options: { rate?: number; channels?: number; bits?: 8 | 16 | 24 | 32; title?: string } = {},
): Uint8Array {
  const rate = options.rate ?? 44100;
  const channels = options.channels ?? 2;
  const bits = options.bits ?? 16;
  const frames = Math.round(seconds * rate);
  const max = 2 ** (bits - 1) - 1;
  const data: number[][] = [];
  for (let c = 0; c < channels; c++) {
    const samples = new Array<number>(frames);
    for (let i = 0; i < frames; i++) {
      const v = Math.round(Math.sin((2 * Math.PI * 440 * i) / rate + c) * max * 0.5) + (i % 7);
      samples[i] = bits === 8 ? Math.max(0, Math.min(255, v + 128)) : v;
    }
    data.push(samples);
  }
  const wav = new wavefile.WaveFile();
  wav.fromScratch(channels, rate, String(bits), data);
  if (options.title) wav.setTag("INAM", options.title);
  return wav.toBuffer();
}

export function writeTone(
  file: string,
  seconds: number,
  options?: Parameters<typeof toneWav>[1],
): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, toneWav(seconds, options));
}

/** The PCM bytes of a WAV file's data chunk. */
export async function pcmOf(file: string): Promise<Buffer> {
  const info = await readWavInfo(file);
  return readFileSync(file).subarray(info.dataOffset, info.dataOffset + info.dataBytes);
}

export interface CraftOptions {
  format?: number;
  channels?: number;
  rate?: number;
  bits?: number;
  blockAlign?: number;
  byteRate?: number;
  /** What the data chunk header claims, and how many bytes really follow. */
  claimedData?: number;
  actualData?: number;
}

/** A WAV written byte by byte, so its header can say anything. */
export function craftWav(options: CraftOptions = {}): Buffer {
  const channels = options.channels ?? 1;
  const rate = options.rate ?? 8000;
  const bits = options.bits ?? 16;
  const blockAlign = options.blockAlign ?? Math.ceil((channels * bits) / 8);
  const actual = options.actualData ?? 1600;
  const fmt = Buffer.alloc(24);
  fmt.write("fmt ", 0, "latin1");
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(options.format ?? 1, 8);
  fmt.writeUInt16LE(channels, 10);
  fmt.writeUInt32LE(rate, 12);
  fmt.writeUInt32LE(options.byteRate ?? rate * blockAlign, 16);
  fmt.writeUInt16LE(blockAlign, 20);
  fmt.writeUInt16LE(bits, 22);
  const data = Buffer.alloc(8 + actual);
  data.write("data", 0, "latin1");
  data.writeUInt32LE(options.claimedData ?? actual, 4);
  for (let i = 0; i < actual; i++) data[8 + i] = i % 251;
  const head = Buffer.alloc(12);
  head.write("RIFF", 0, "latin1");
  head.writeUInt32LE(4 + fmt.length + data.length, 4);
  head.write("WAVE", 8, "latin1");
  return Buffer.concat([head, fmt, data]);
}
