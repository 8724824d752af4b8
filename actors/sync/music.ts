/**
 * Which music files sync moves, by the catalogue's own rules (probe.ts): a
 * WAV by its cheap header check (wav.ts, as before), every other format by
 * its tags and structure and, where ffmpeg is here, a decode of its end. A
 * machine without ffmpeg still relays FLAC and the rest (it cannot play
 * them, others can), checked without the decode.
 */
import { containerOf } from "../../wire/media.js";
import { findFfmpeg } from "../file/decode.js";
import { probeSong } from "../file/probe.js";
import { MediaError } from "../file/tags.js";
import { wavStateOfFile, type WavState } from "./wav.js";

export interface MusicState {
  state: WavState;
  /** Why a file is not synced (for one log line or a refused transfer). */
  reason?: string;
}

let ffmpegHere: string | undefined | null = null;
function ffmpeg(): string | undefined {
  if (ffmpegHere === null) ffmpegHere = findFfmpeg();
  return ffmpegHere;
}

/** `file` holds the content of a music file called `name` (a received temp file has another name). */
export async function musicStateOfFile(
  file: string,
  name: string,
  size: number,
): Promise<MusicState> {
  const container = containerOf(name);
  if (!container) return { state: "not-wav", reason: "not a music file" };
  if (container === "wav") {
    const state = await wavStateOfFile(file, size);
    return state === "not-wav" ? { state, reason: "no RIFF/WAVE header" } : { state };
  }
  try {
    await probeSong(file, container, { ffmpeg: ffmpeg(), decodeCheck: false });
    return { state: "ok" };
  } catch (err) {
    if (err instanceof MediaError) return { state: "not-wav", reason: err.message };
    throw err;
  }
}
