/**
 * A control node's music folder as sync sees it: every safe, complete music
 * file (music.ts: WAV, FLAC, MP3, Ogg, Opus, M4A) with its size and SHA-256. Hashes are cached by size and modification
 * time, so a round over an unchanged folder costs one stat per file.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../runtime/log.js";
import { isTempName, unsafeReason } from "../../wire/safe-names.js";
import type { ManifestEntry } from "../../wire/sync.js";
import { musicStateOfFile } from "./music.js";
import type { WavState } from "./wav.js";

interface Cached {
  size: number;
  mtimeMs: number;
  state: WavState;
  reason?: string;
  hash?: string;
}

export async function hashFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

export class Manifest {
  private readonly cache = new Map<string, Cached>();
  private readonly reported = new Set<string>();
  private scanning?: Promise<ManifestEntry[]>;
  /** How many files the last scan hashed (the rest came from the cache). */
  hashedLastScan = 0;

  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** The folder's syncable files, sorted by name. Concurrent callers share one scan. */
  scan(): Promise<ManifestEntry[]> {
    this.scanning ??= this.scanNow().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** One file's entry (from the cache when unchanged), without scanning the folder. */
  async lookup(name: string): Promise<ManifestEntry | undefined> {
    if (unsafeReason(name) || isTempName(name)) return undefined;
    const found = await this.entry(name).catch(() => undefined);
    return found?.value;
  }

  /** Forget a file's cached hash (after sync itself wrote or renamed it). */
  forget(name: string): void {
    this.cache.delete(name);
  }

  private async scanNow(): Promise<ManifestEntry[]> {
    await mkdir(this.dir, { recursive: true });
    const names = (await readdir(this.dir)).sort();
    const seen = new Set(names);
    for (const name of this.cache.keys()) if (!seen.has(name)) this.cache.delete(name);
    let hashed = 0;
    const files: ManifestEntry[] = [];
    for (const name of names) {
      if (isTempName(name)) continue;
      const reason = unsafeReason(name);
      if (reason) {
        this.reportOnce(name, reason);
        continue;
      }
      const entry = await this.entry(name).catch((err: unknown) => {
        // Gone or unreadable between readdir and now: try again next round.
        this.log.debug("cannot read music file", { name, error: String(err) });
        return undefined;
      });
      if (!entry) continue;
      if (entry.fresh) hashed++;
      if (entry.value) files.push(entry.value);
    }
    this.hashedLastScan = hashed;
    return files;
  }

  private async entry(
    name: string,
  ): Promise<{ value?: ManifestEntry; fresh: boolean } | undefined> {
    const file = path.join(this.dir, name);
    const st = await lstat(file);
    if (!st.isFile()) {
      this.reportOnce(name, st.isSymbolicLink() ? "symbolic link" : "not a regular file");
      return undefined;
    }
    const cached = this.cache.get(name);
    if (cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs) {
      return { value: this.valueOf(name, cached), fresh: false };
    }
    const { state, reason } = await musicStateOfFile(file, name, st.size);
    const fresh: Cached = { size: st.size, mtimeMs: st.mtimeMs, state, reason };
    if (state === "ok") fresh.hash = await hashFile(file);
    // A file that changed while we read it is still being written: next round.
    const after = await lstat(file);
    if (after.size !== st.size || after.mtimeMs !== st.mtimeMs) return undefined;
    if (state === "not-wav") this.reportOnce(name, reason ?? "not a music file");
    // Incomplete files are not cached: their size changes as the copy goes on.
    if (state !== "incomplete") this.cache.set(name, fresh);
    return { value: this.valueOf(name, fresh), fresh: state === "ok" };
  }

  private valueOf(name: string, c: Cached): ManifestEntry | undefined {
    return c.state === "ok" && c.hash ? { name, size: c.size, hash: c.hash } : undefined;
  }

  private reportOnce(name: string, reason: string): void {
    const key = `${name}\0${reason}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.log.info("not synced", { name: JSON.stringify(name).slice(1, -1), reason });
  }
}
