/**
 * The PCM format of a song as the player sees it is the wire's one format
 * (wire/media.ts): interleaved little-endian frames, signed integers
 * (unsigned for 8-bit, as in WAV) or floats. Here: its arithmetic.
 */
import { frameBytes, type AudioFormat } from "../../wire/media.js";

export { frameBytes };
export type PcmFormat = AudioFormat;

export function bytesPerSecond(f: PcmFormat): number {
  return f.sampleRate * frameBytes(f);
}

export function bytesToSeconds(f: PcmFormat, bytes: number): number {
  return bytes / bytesPerSecond(f);
}

/** A byte offset at a frame boundary, never negative. */
export function secondsToBytes(f: PcmFormat, seconds: number): number {
  const frame = frameBytes(f);
  return Math.max(0, Math.floor((seconds * bytesPerSecond(f)) / frame) * frame);
}

/**
 * A start time that a file node (which starts at the frame at or before a
 * time) turns back into the frame holding `byte`: half a frame in, so no
 * rounding can land on the frame before.
 */
export function startSeconds(f: PcmFormat, byte: number): number {
  return (Math.floor(byte / frameBytes(f)) + 0.5) / f.sampleRate;
}

/** Round a byte count down to whole frames. */
export function wholeFrames(f: PcmFormat, bytes: number): number {
  const frame = frameBytes(f);
  return bytes - (bytes % frame);
}

export function describeFormat(f: PcmFormat): string {
  const rate = `${f.sampleRate / 1000} kHz`;
  const ch = f.channels === 1 ? "mono" : f.channels === 2 ? "stereo" : `${f.channels} channels`;
  return `${rate} ${ch} ${f.bitDepth}-bit${f.float ? " float" : ""}`;
}

/** The `aplay` flags that play raw PCM of this format from stdin. */
export function aplayArgs(f: PcmFormat): string {
  const sample = f.float
    ? "FLOAT_LE"
    : f.bitDepth === 8
      ? "U8"
      : f.bitDepth === 24
        ? "S24_3LE"
        : `S${f.bitDepth}_LE`;
  return `aplay -t raw -f ${sample} -r ${f.sampleRate} -c ${f.channels}`;
}
