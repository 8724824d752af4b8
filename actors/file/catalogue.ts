/**
 * The songs of this machine's music folder. Every listing reads the folder
 * again (so files added, replaced or removed show up at once) but parses a
 * file's header only when its size, mtime or inode changed. A file that is
 * not a playable WAV is left out with one warning per version of the file.
 */
import { createHash } from "node:crypto";
import { readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { ChorusError } from "../../wire/errors.js";
import type { AudioFormat, Song } from "../../wire/media.js";
import type { Logger } from "../runtime/log.js";
import { readWavInfo, WavError, type WavInfo } from "./wav.js";

/** A song resolved for streaming: its catalogue entry plus where its PCM lives. */
export interface SongFile {
  song: Song;
  path: string;
  info: WavInfo;
}

interface Entry {
  key: string;
  result: { info: WavInfo } | { error: string };
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
  ) {}

  async list(): Promise<Song[]> {
    const songs: Song[] = [];
    for (const file of await this.wavFiles()) {
      const resolved = await this.load(file).catch(() => undefined);
      if (resolved) songs.push(resolved.song);
    }
    return songs.sort((a, b) => a.title.localeCompare(b.title) || a.file.localeCompare(b.file));
  }

  /** Find a song by id or file name; throws NOT_FOUND / BAD_REQUEST with the reason. */
  async resolve(nameOrId: string): Promise<SongFile> {
    const files = await this.wavFiles();
    const byId = files.find((f) => songIdOf(f) === nameOrId);
    const file = byId ?? checkFileName(nameOrId);
    if (!byId && !files.includes(file)) {
      throw new ChorusError("NOT_FOUND", "no such song in the music folder");
    }
    return this.load(file);
  }

  private async wavFiles(): Promise<string[]> {
    try {
      const names = await readdir(this.folder);
      return names.filter((n) => n.toLowerCase().endsWith(".wav") && !n.startsWith("."));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new ChorusError("UNAVAILABLE", "cannot read the music folder");
    }
  }

  /** Parse (or reuse) one file's header; throws with a clear reason when it is unusable. */
  private async load(file: string): Promise<SongFile> {
    const full = path.join(this.folder, file);
    let key: string;
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
    } catch (err) {
      if (err instanceof ChorusError) throw err;
      throw new ChorusError("NOT_FOUND", "no such song in the music folder");
    }
    let entry = this.cache.get(file);
    if (!entry || entry.key !== key) {
      entry = { key, result: await this.parse(full, file) };
      this.cache.set(file, entry);
    }
    const result = entry.result;
    if ("error" in result) {
      throw new ChorusError("BAD_REQUEST", `song cannot be played: ${result.error}`);
    }
    return { song: songOf(file, result.info), path: full, info: result.info };
  }

  private async parse(full: string, file: string): Promise<Entry["result"]> {
    try {
      return { info: await readWavInfo(full) };
    } catch (err) {
      const reason = err instanceof WavError ? err.message : String(err);
      this.log.warn("skipping file that is not a playable WAV", { file, reason });
      return { error: reason };
    }
  }
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
