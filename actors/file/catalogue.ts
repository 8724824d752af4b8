/**
 * The songs of this machine's music folder. Every listing reads the folder
 * again (so files added, replaced or removed show up at once) but probes a
 * file (probe.ts) only when its size, mtime or inode changed. A file that is
 * not a playable song is left out with one warning per version of the file;
 * without ffmpeg, every format but WAV is left out with one warning in all.
 */
import { createHash } from "node:crypto";
import { readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { ChorusError } from "../../wire/errors.js";
import { containerOf, type AudioFormat, type Song } from "../../wire/media.js";
import type { Logger } from "../runtime/log.js";
import { NeedsFfmpegError, probeSong, type Probed } from "./probe.js";
import { MediaError, type DecodedLayout } from "./tags.js";
import { WavError, type WavInfo } from "./wav.js";

/** The PCM a song yields, whatever its container. */
export interface PcmLayout {
  sampleRate: number;
  channels: number;
  bitDepth: number;
  /** Bytes per frame (one sample of every channel). */
  blockAlign: number;
  frames: number;
  /** Seconds. */
  duration: number;
}

/** Where a song's PCM comes from: read from a WAV file, or decoded by ffmpeg. */
export type PcmOrigin =
  { kind: "wav"; dataOffset: number } | { kind: "decoded"; layout: DecodedLayout };

/** A song resolved for streaming: its catalogue entry plus where its PCM lives. */
export interface SongFile {
  song: Song;
  path: string;
  info: PcmLayout;
  origin: PcmOrigin;
}

type Probe = { probed: Probed; size: number } | { error: string };

interface Entry {
  key: string;
  /** Shared by concurrent listings, so each version of a file is probed (and warned of) once. */
  result: Promise<Probe>;
}

/** Files probed at once by a listing: a probe of a decoded format waits mostly on ffmpeg. */
const probeConcurrency = 4;

export interface CatalogueOptions {
  /** ffmpeg's path (decode.ts findFfmpeg); without it only WAV songs are listed. */
  ffmpeg?: string;
}

export function songIdOf(file: string): string {
  return createHash("sha256").update(file).digest("base64url").slice(0, 16);
}

/**
 * Refuse anything that is not a plain file name: separators, `.`/`..`,
 * absolute paths, NUL. Names never reach the file system unchecked.
 */
export function checkFileName(name: string): string {
  if (
    name.length === 0 ||
    name.length > 255 ||
    name.includes("\0") ||
    name.includes("/") ||
    name.includes("\\") ||
    name === "." ||
    name === ".." ||
    name.startsWith("..") ||
    path.isAbsolute(name)
  ) {
    throw new ChorusError("BAD_REQUEST", "song must be a song id or a plain file name");
  }
  return name;
}

export class Catalogue {
  private readonly cache = new Map<string, Entry>();

  constructor(
    readonly folder: string,
    private readonly log: Logger,
    private readonly options: CatalogueOptions = {},
  ) {}

  async list(): Promise<Song[]> {
    const songs: Song[] = [];
    const files = await this.musicFiles();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < files.length) {
        const file = files[next++] as string;
        const resolved = await this.load(file).catch(() => undefined);
        if (resolved) songs.push(resolved.song);
      }
    };
    await Promise.all(Array.from({ length: Math.min(probeConcurrency, files.length) }, worker));
    return songs.sort((a, b) => a.title.localeCompare(b.title) || a.file.localeCompare(b.file));
  }

  /** Find a song by id or file name; throws NOT_FOUND / BAD_REQUEST with the reason. */
  async resolve(nameOrId: string): Promise<SongFile> {
    const files = await this.musicFiles();
    const byId = files.find((f) => songIdOf(f) === nameOrId);
    const file = byId ?? checkFileName(nameOrId);
    if (!byId && !files.includes(file)) {
      throw new ChorusError("NOT_FOUND", "no such song in the music folder");
    }
    return this.load(file);
  }

  private async musicFiles(): Promise<string[]> {
    try {
      const names = await readdir(this.folder);
      return names.filter((n) => containerOf(n) !== undefined && !n.startsWith("."));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new ChorusError("UNAVAILABLE", "cannot read the music folder");
    }
  }

  /** Parse (or reuse) one file's header; throws with a clear reason when it is unusable. */
  private async load(file: string): Promise<SongFile> {
    const full = path.join(this.folder, file);
    let key: string;
    let size: number;
    try {
      // Follow links only to files inside the music folder.
      const real = await realpath(full);
      const root = await realpath(this.folder);
      if (path.dirname(real) !== root) {
        throw new ChorusError("NOT_FOUND", "no such song in the music folder");
      }
      const st = await stat(real);
      if (!st.isFile()) throw new ChorusError("NOT_FOUND", "no such song in the music folder");
      key = `${st.ino}:${st.size}:${st.mtimeMs}`;
      size = st.size;
    } catch (err) {
      if (err instanceof ChorusError) throw err;
      throw new ChorusError("NOT_FOUND", "no such song in the music folder");
    }
    let entry = this.cache.get(file);
    if (!entry || entry.key !== key) {
      entry = { key, result: this.parse(full, file, size) };
      this.cache.set(file, entry);
    }
    const result = await entry.result;
    if ("error" in result) {
      throw new ChorusError("BAD_REQUEST", `song cannot be played: ${result.error}`);
    }
    return songFileOf(file, full, result.probed, result.size);
  }

  private async parse(full: string, file: string, size: number): Promise<Probe> {
    const container = containerOf(file) ?? "wav";
    try {
      const probed = await probeSong(full, container, { ffmpeg: this.options.ffmpeg });
      return { probed, size };
    } catch (err) {
      const reason =
        err instanceof WavError || err instanceof MediaError ? err.message : String(err);
      if (err instanceof NeedsFfmpegError) {
        // The file node said so once at start (service.ts).
        this.log.debug("skipping file that needs ffmpeg", { file });
      } else {
        const label = container.toUpperCase();
        this.log.warn(`skipping file that is not a playable ${label}`, { file, reason });
      }
      return { error: reason };
    }
  }
}

function songFileOf(file: string, full: string, probed: Probed, size: number): SongFile {
  if (probed.kind === "wav") {
    const { info } = probed;
    return {
      song: { ...songOf(file, info), container: "wav", fileBytes: size },
      path: full,
      info,
      origin: { kind: "wav", dataOffset: info.dataOffset },
    };
  }
  const { info, container } = probed;
  const { tags } = info;
  const format: AudioFormat = {
    sampleRate: info.sampleRate,
    channels: info.channels,
    bitDepth: info.bitDepth,
  };
  const song: Song = {
    id: songIdOf(file),
    title: tags.title ?? file.replace(/\.[^.]+$/, ""),
    ...(tags.artist ? { artist: tags.artist } : {}),
    ...(tags.album ? { album: tags.album } : {}),
    ...(tags.albumArtist ? { albumArtist: tags.albumArtist } : {}),
    ...(tags.track ? { track: tags.track } : {}),
    ...(tags.disc ? { disc: tags.disc } : {}),
    ...(tags.year ? { year: tags.year } : {}),
    ...(tags.genre ? { genre: tags.genre } : {}),
    container,
    fileBytes: size,
    cover: tags.cover,
    file,
    duration: Math.round(info.duration * 1000) / 1000,
    format,
    bytes: info.frames * info.blockAlign,
  };
  return { song, path: full, info, origin: { kind: "decoded", layout: info } };
}

function songOf(file: string, info: WavInfo): Song {
  return {
    id: songIdOf(file),
    title: info.title ?? file.replace(/\.wav$/i, ""),
    ...(info.artist ? { artist: info.artist } : {}),
    ...(info.album ? { album: info.album } : {}),
    ...(info.track ? { track: info.track } : {}),
    file,
    duration: Math.round(info.duration * 1000) / 1000,
    format: formatOf(info),
    bytes: info.dataBytes,
  };
}

/** The wire's format of a WAV file (its bit depth is one wav.ts accepts). */
export function formatOf(info: WavInfo): AudioFormat {
  const { sampleRate, channels } = info;
  return { sampleRate, channels, bitDepth: info.bitDepth as AudioFormat["bitDepth"] };
}
