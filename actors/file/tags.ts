/**
 * What a FLAC, MP3, Ogg, Opus or M4A file says about itself, read with
 * music-metadata from its headers and tags, without decoding the audio: the
 * tags a listing shows and the PCM layout the decoder will be asked for.
 * A file whose content is not the container its name claims is refused here.
 */
import { parseFile, type IAudioMetadata } from "music-metadata";
import type { Container } from "../../wire/media.js";
import { readXing } from "./mp3-info.js";
import { playable } from "./wav.js";

/** A file that is not a song we can play; `message` says why, for one log line or reply. */
export class MediaError extends Error {
  override name = "MediaError";
}

export interface Tags {
  title?: string;
  artist?: string;
  album?: string;
  albumArtist?: string;
  track?: number;
  disc?: number;
  year?: number;
  genre?: string;
  cover: boolean;
}

/** The PCM a decoded file yields, as the decoder is asked to produce it. */
export interface DecodedLayout {
  sampleRate: number;
  channels: number;
  bitDepth: 8 | 16 | 24 | 32;
  blockAlign: number;
  frames: number;
  /** Seconds. */
  duration: number;
  /** Lossy codecs need a short pre-roll before a seek point to decode it exactly. */
  lossy: boolean;
  /**
   * Whether ffmpeg's input seek gives exact timestamps for this codec (FLAC,
   * Opus, MP4's sample tables). Ogg Vorbis lands some frames off, and MP3's
   * seek tables are estimates: those decode from the start and drop frames.
   */
  inputSeek: boolean;
  codec: string;
}

export interface EncodedInfo extends DecodedLayout {
  tags: Tags;
}

/** What music-metadata calls each container's content, by the name's ending. */
const expected: Record<Exclude<Container, "wav">, { container: RegExp; codec: RegExp }> = {
  flac: { container: /^FLAC$/, codec: /^FLAC$/ },
  mp3: { container: /^MPEG$/, codec: /^MPEG (1|2|2\.5) Layer (2|3)$/ },
  ogg: { container: /^Ogg$/, codec: /^(Vorbis|Opus|FLAC)/ },
  opus: { container: /^Ogg$/, codec: /^Opus$/ },
  m4a: { container: /^(M4A|M4B|mp4|MP4|isom|iso\d|mp4\d)/, codec: /(AAC|ALAC)/ },
};

const shortText = (value: string | undefined): string | undefined => {
  const clean = value?.replace(/\0+$/, "").trim();
  return clean ? clean.slice(0, 200) : undefined;
};

export async function readTags(
  file: string,
  container: Exclude<Container, "wav">,
): Promise<EncodedInfo> {
  let meta = await parse(file, false);
  check(meta, container);
  // Only files whose headers give no length (e.g. an MP3 without a Xing header) are scanned whole.
  if (!(meta.format.duration && meta.format.duration > 0)) meta = await parse(file, true);
  let exactFrames: number | undefined;
  if (container === "mp3") {
    const xing = await readXing(file);
    if (xing?.streamBytes && xing.available < xing.streamBytes) {
      throw new MediaError(
        `truncated: its header counts ${xing.streamBytes} bytes of audio, the file holds ${xing.available}`,
      );
    }
    exactFrames = xing?.samples;
  }
  const layout = layoutOf(meta, container, exactFrames);
  return { ...layout, tags: tagsOf(meta) };
}

async function parse(file: string, duration: boolean): Promise<IAudioMetadata> {
  try {
    return await parseFile(file, { duration, skipCovers: false });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code) throw new MediaError(`cannot open: ${code}`);
    const why = err instanceof Error ? err.message : String(err);
    throw new MediaError(`unreadable (truncated or corrupt): ${why.slice(0, 200)}`);
  }
}

function check(meta: IAudioMetadata, container: Exclude<Container, "wav">): void {
  const { format } = meta;
  const want = expected[container];
  const found = format.container ?? "";
  if (!want.container.test(found)) {
    const seen = found ? `its content is ${found}` : "no audio stream found";
    throw new MediaError(`not a valid .${container} file (${seen})`);
  }
  const codec = format.codec ?? "";
  if (!want.codec.test(codec)) {
    throw new MediaError(`${codec || "unknown"} audio is not supported in a .${container} file`);
  }
}

function layoutOf(
  meta: IAudioMetadata,
  container: Exclude<Container, "wav">,
  exactFrames: number | undefined,
): DecodedLayout {
  const { format } = meta;
  const codec = format.codec ?? container;
  const channels = format.numberOfChannels ?? 0;
  if (channels < 1) throw new MediaError("no channels");
  if (channels > playable.maxChannels) throw new MediaError(`${channels} channels not supported`);
  // Opus always decodes at 48 kHz, whatever rate its header says the input had.
  const sampleRate = /^Opus/.test(codec) ? 48_000 : (format.sampleRate ?? 0);
  if (sampleRate < playable.minRate || sampleRate > playable.maxRate) {
    throw new MediaError(`sample rate ${sampleRate} Hz not supported`);
  }
  const lossless = format.lossless === true || /^(FLAC|ALAC)/.test(codec);
  const bitDepth = lossless ? depthOf(format.bitsPerSample) : 16;
  const duration = format.duration ?? 0;
  if (!(duration > 0) || !Number.isFinite(duration)) {
    throw new MediaError("no audio: zero length (empty or truncated)");
  }
  if (duration > 86_400) throw new MediaError("longer than a day");
  const frames = exactFrames && exactFrames > 0 ? exactFrames : Math.round(duration * sampleRate);
  return {
    sampleRate,
    channels,
    bitDepth,
    blockAlign: (bitDepth / 8) * channels,
    frames,
    duration: frames / sampleRate,
    lossy: !lossless,
    // FLAC inside Ogg seeks by Ogg pages as Vorbis does: from the start too.
    inputSeek: !/^(Vorbis|MPEG)/.test(codec) && !(container === "ogg" && /^FLAC/.test(codec)),
    codec,
  };
}

/** Lossless audio keeps its own depth (rounded up to whole bytes), so it decodes bit-exact. */
function depthOf(bits: number | undefined): DecodedLayout["bitDepth"] {
  if (!bits || bits > 32) throw new MediaError(`${bits ?? "unknown"}-bit samples not supported`);
  if (bits <= 8) return 8;
  if (bits <= 16) return 16;
  if (bits <= 24) return 24;
  return 32;
}

function tagsOf(meta: IAudioMetadata): Tags {
  const { common } = meta;
  const number = (n: number | null | undefined, max: number): number | undefined =>
    typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= max ? n : undefined;
  return {
    title: shortText(common.title),
    artist: shortText(common.artist),
    album: shortText(common.album),
    albumArtist: shortText(common.albumartist),
    track: number(common.track.no, 100_000),
    disc: number(common.disk.no, 1000),
    year: number(common.year, 9999),
    genre: shortText(common.genre?.join(", ")),
    cover: (common.picture?.length ?? 0) > 0,
  };
}
