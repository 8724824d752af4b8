/**
 * Shared by the player tests and benchmark: a real system (broker + prime,
 * which spawns auth and file nodes) with songs whose PCM is known byte for
 * byte, and reading WAV files back.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import wavefile from "wavefile";
import type { ChorusConfig } from "../actors/config.js";
import { bytesPerSecond, type PcmFormat } from "../client/audio/format.js";
import { wavHeader } from "../client/audio/wav.js";
import { TestSystem } from "./helpers/system.js";

export const demoUser = { user: "Someone", password: "password123" };

export interface TestSong {
  file: string;
  title: string;
  format: PcmFormat;
  pcm: Buffer;
  seconds: number;
}

/** Distinct bytes everywhere, so any lost, repeated or shifted byte shows. */
export function noise(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function writeSong(
  folder: string,
  file: string,
  seconds: number,
  format: PcmFormat,
  seed = 1,
): TestSong {
  mkdirSync(folder, { recursive: true });
  const pcm = noise(
    Math.round(seconds * format.sampleRate) * (format.bitDepth / 8) * format.channels,
    seed,
  );
  writeFileSync(path.join(folder, file), Buffer.concat([wavHeader(format, pcm.length), pcm]));
  return { file, title: file.replace(/\.wav$/, ""), format, pcm, seconds };
}

export function readWav(file: string): { format: PcmFormat; data: Buffer } {
  const wav = new wavefile.WaveFile(readFileSync(file));
  const fmt = wav.fmt as { sampleRate: number; numChannels: number; bitsPerSample: number };
  const data = wav.data as { samples: Uint8Array };
  return {
    format: { sampleRate: fmt.sampleRate, channels: fmt.numChannels, bitDepth: fmt.bitsPerSample },
    data: Buffer.from(data.samples),
  };
}

export const formats = {
  cd: { sampleRate: 44100, channels: 2, bitDepth: 16 },
  mono8k: { sampleRate: 8000, channels: 1, bitDepth: 16 },
  mono22: { sampleRate: 22050, channels: 1, bitDepth: 8 },
} satisfies Record<string, PcmFormat>;

/** Byte range of `song` from `from` seconds for `length` seconds, frame-aligned as the node cuts it. */
export function slice(song: TestSong, from: number, length?: number): Buffer {
  const frame = (song.format.bitDepth / 8) * song.format.channels;
  const start = Math.floor(from * song.format.sampleRate) * frame;
  const end =
    length === undefined
      ? song.pcm.length
      : start + Math.floor(length * song.format.sampleRate) * frame;
  return song.pcm.subarray(start, Math.min(end, song.pcm.length));
}

export function secondsOf(song: TestSong, bytes: number): number {
  return bytes / bytesPerSecond(song.format);
}

/** A running system: broker + prime with `songs` in its music folder. */
export async function startSystem(
  make: (music: string) => TestSong[],
  overrides: Partial<ChorusConfig> = {},
): Promise<{ sys: TestSystem; songs: TestSong[]; client: ChorusConfig }> {
  const sys = new TestSystem();
  await sys.startBroker();
  const prime = sys.config("prime", { maxLoad: 6, ...overrides });
  const songs = make(prime.music);
  await sys.startControl("prime", prime);
  return { sys, songs, client: sys.config("client", overrides) };
}
