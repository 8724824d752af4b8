/**
 * Is a music file a song we can play, and what is it? One set of rules for
 * the catalogue and for music sync: WAV through its own header reader;
 * every other container through its tags (music-metadata) and a cheap check
 * that it ends where its header says (FLAC's last frame, an Ogg's end page,
 * an MP3's byte count), which catches a copy cut short. Where that check
 * cannot tell, ffmpeg decodes the file's last half second and decides.
 */
import { open } from "node:fs/promises";
import type { Container } from "../../wire/media.js";
import { endDecodes } from "./decode.js";
import { flacEndProblem } from "./flac-end.js";
import { readXing } from "./mp3-info.js";
import { MediaError, readTags, type EncodedInfo } from "./tags.js";
import { readWavInfo, type WavInfo } from "./wav.js";

export type Probed =
  | { kind: "wav"; info: WavInfo }
  | { kind: "decoded"; container: Exclude<Container, "wav">; info: EncodedInfo };

/** A decoded format on a machine without ffmpeg: left out, with one warning for all such files. */
export class NeedsFfmpegError extends MediaError {
  override name = "NeedsFfmpegError";
  constructor(container: Container) {
    super(`.${container} files need ffmpeg, which is not installed on this machine`);
  }
}

export interface ProbeOptions {
  /** ffmpeg's path; without it only WAV is playable. */
  ffmpeg?: string;
  /** Sync moves files it cannot decode here: tags and structure suffice. */
  decodeCheck?: boolean;
}

export async function probeSong(
  file: string,
  container: Container,
  options: ProbeOptions,
): Promise<Probed> {
  if (container === "wav") return { kind: "wav", info: await readWavInfo(file) };
  if (!options.ffmpeg && options.decodeCheck !== false) throw new NeedsFfmpegError(container);
  const info = await readTags(file, container);
  const doubt = await endDoubt(file, container, options.ffmpeg !== undefined);
  if (doubt) {
    // Where the structure does not prove the file whole, ffmpeg decodes its end and decides.
    if (!options.ffmpeg) throw new MediaError(doubt);
    const why = await endDecodes(options.ffmpeg, file, info.duration);
    if (why) throw new MediaError(why);
  }
  return { kind: "decoded", container, info };
}

/**
 * Cheap checks that a file ends where its header says (a few KiB read, no
 * decoding): undefined when it does, else the doubt. A file's tags and
 * boxes were checked already: an MP3's Xing byte count (tags.ts) and an
 * M4A's atom sizes (music-metadata) refuse a copy cut short there.
 */
async function endDoubt(
  file: string,
  container: Exclude<Container, "wav">,
  canDecode: boolean,
): Promise<string | undefined> {
  switch (container) {
    case "flac":
      return flacEndProblem(file);
    case "ogg":
    case "opus":
      await checkOggEnd(file);
      return undefined;
    case "mp3":
      // Without a Xing header an MP3's length comes from its size: nothing to contradict,
      // so a relay without ffmpeg takes it as it is.
      return canDecode && (await readXing(file))?.streamBytes === undefined
        ? "no Xing header to check its length by"
        : undefined;
    case "m4a":
      return undefined;
  }
}

/** How far back from the end we look for the last Ogg page (pages are at most ~64 KiB). */
const oggTail = 70_000;

/**
 * An Ogg stream ends with a page flagged end-of-stream. A copy cut short
 * lacks it, and its last granule position (which music-metadata takes as
 * the length) then quietly makes a shorter song.
 */
async function checkOggEnd(file: string): Promise<void> {
  const fh = await open(file, "r");
  try {
    const size = (await fh.stat()).size;
    const length = Math.min(size, oggTail);
    const tail = Buffer.alloc(length);
    await fh.read(tail, 0, length, size - length);
    const last = tail.lastIndexOf("OggS");
    if (last < 0 || last + 6 > tail.length) throw new MediaError("no Ogg page at its end");
    const endOfStream = ((tail[last + 5] ?? 0) & 0x04) !== 0;
    if (!endOfStream)
      throw new MediaError("truncated: its last Ogg page is not the end of the stream");
  } finally {
    await fh.close();
  }
}
