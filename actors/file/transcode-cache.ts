/**
 * The file node's transcode cache: each song is encoded once per quality
 * level (actors/file/encode.ts) into DATA/transcode/, bounded in size with
 * least-recently-used eviction (a file's mtime is touched whenever it is
 * served).
 *
 * - A first play streams while it encodes: the encoder's output is parsed
 *   into packets in memory as it comes (ogg-opus.ts) and written to a
 *   `.part` file at the same time; readers wait for the packets they need.
 * - Two streams of one song and level share one encode (one entry per key);
 *   two file nodes of one machine may both encode, each into its own
 *   `.part` file, and the atomic rename makes either result the cache file.
 * - Only a whole encode (ffmpeg exited 0 and the end-of-stream page was
 *   read) is renamed into place, after an fsync: a half-written file is
 *   never served as complete, and a crash leaves only a `.part` (removed at
 *   start once its writer's process is gone).
 * - The key covers the file's path, size, mtime and inode, the level's
 *   bitrate and the channel count: a replaced song is encoded again.
 */
import { createHash } from "node:crypto";
import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
  utimes,
  type FileHandle,
} from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../runtime/log.js";
import { EncoderPool, type Encoder } from "./encode.js";
import { OggOpusReader, type OpusHead } from "./ogg-opus.js";

/** Bumped when the encoder's arguments change, so old cache files are not reused. */
const encodeVersion = 1;

export interface EncodedRequest {
  file: string;
  /** Song id: readable cache file names. */
  songId: string;
  level: string;
  channels: number;
  bitrate: number;
  /** ffmpeg can read it from a pipe (not an M4A: its index may sit at the end). */
  pipeable: boolean;
}

/** One song at one level, as a stream reads it: shared, read-only. */
export interface EncodedSong {
  readonly packets: readonly Buffer[];
  readonly head: OpusHead | undefined;
  /** All packets are here. */
  readonly complete: boolean;
  /** It came from the cache file (no encoder ran for it). */
  readonly cached: boolean;
  /** Resolves once `count` packets are here or the encode is complete; throws if it failed. */
  waitFor(count: number): Promise<void>;
  /** The stream is done with it. */
  release(): void;
}

class Entry implements EncodedSong {
  readonly reader = new OggOpusReader();
  complete = false;
  failure?: Error;
  users = 0;
  encoder?: Encoder;
  private waiters: Array<() => void> = [];

  constructor(
    readonly key: string,
    readonly file: string,
    readonly cached: boolean,
    private readonly onRelease: (entry: Entry) => void,
  ) {}

  get packets(): readonly Buffer[] {
    return this.reader.packets;
  }

  get head(): OpusHead | undefined {
    return this.reader.head;
  }

  async waitFor(count: number): Promise<void> {
    while (!this.complete && !this.failure && this.reader.packets.length < count) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.failure && this.reader.packets.length < count) throw this.failure;
  }

  /** New packets, the end, or a failure: wake every reader. */
  notify(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  release(): void {
    this.users--;
    this.onRelease(this);
  }
}

export class TranscodeCache {
  readonly dir: string;
  private readonly entries = new Map<string, Entry>();
  /** Entries being looked up (the cache file read, or an encode started): one per key. */
  private readonly opening = new Map<string, Promise<Entry>>();
  private closed = false;
  private readonly pool: EncoderPool;

  constructor(
    dataDir: string,
    private readonly limitBytes: number,
    ffmpeg: string,
    private readonly log: Logger,
  ) {
    this.dir = path.join(dataDir, "transcode");
    this.pool = new EncoderPool(ffmpeg);
  }

  /** Make the folder, remove what crashed writers left, keep it under its limit. */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      const pid = /\.(\d+)\.[a-z0-9]+\.part$/.exec(name)?.[1];
      if (pid && !alive(Number(pid)))
        await unlink(path.join(this.dir, name)).catch(() => undefined);
    }
    await this.evict();
  }

  /** The song at a level: from memory (a stream shares it), the cache file, or a new encode. */
  async open(what: EncodedRequest): Promise<EncodedSong> {
    if (this.closed) throw new Error("transcode cache closed");
    const key = await keyOf(what);
    const file = path.join(this.dir, `${what.songId}-${what.level}-${key}.opus`);
    let entry = this.entries.get(key);
    if (!entry || entry.failure) {
      // Two plays of one song at once share one lookup, so they share one encode.
      let pending = this.opening.get(key);
      if (!pending) {
        pending = this.load(key, file).then((e) => e ?? this.encode(key, file, what));
        this.opening.set(key, pending);
        void pending
          .then((e) => this.entries.set(key, e))
          .catch(() => undefined)
          .finally(() => this.opening.delete(key));
      }
      entry = await pending;
    }
    entry.users++;
    return entry;
  }

  /** Stop every encoder and remove their `.part` files (the node stops). */
  async close(): Promise<void> {
    this.closed = true;
    this.pool.close();
    await Promise.all([...this.entries.values()].map((e) => e.encoder?.kill()));
  }

  /** Bytes in the folder's finished files. */
  async size(): Promise<number> {
    return (await this.files()).reduce((sum, f) => sum + f.size, 0);
  }

  private async load(key: string, file: string): Promise<Entry | undefined> {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch {
      return undefined;
    }
    const entry = new Entry(key, file, true, (e) => this.released(e));
    try {
      entry.reader.feed(data);
    } catch {
      // Not what we wrote: encode it again.
      await unlink(file).catch(() => undefined);
      return undefined;
    }
    if (!entry.reader.ended) return undefined;
    entry.complete = true;
    const now = new Date();
    await utimes(file, now, now).catch(() => undefined);
    return entry;
  }

  private encode(key: string, file: string, what: EncodedRequest): Entry {
    const entry = new Entry(key, file, false, (e) => this.released(e));
    const part = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.part`;
    let handle: Promise<FileHandle> | undefined = open(part, "w");
    let writes: Promise<unknown> = handle;
    const started = Date.now();
    entry.encoder = this.pool.start(
      { file: what.file, channels: what.channels, bitrate: what.bitrate },
      what.pipeable,
      (chunk) => {
        if (entry.failure) return;
        try {
          entry.reader.feed(chunk);
        } catch (err) {
          // Not Ogg Opus (cannot happen with a sane ffmpeg): stop, it fails below.
          entry.failure = err instanceof Error ? err : new Error(String(err));
          void entry.encoder?.kill();
        }
        const h = handle;
        if (h) writes = writes.then(() => h.then((fd) => fd.write(chunk)));
        entry.notify();
      },
    );
    void (async () => {
      try {
        await entry.encoder?.done;
        await writes;
        if (entry.failure) throw entry.failure;
        if (!entry.reader.ended) throw new Error("the encode ended without its last page");
        const fd = await handle;
        await fd?.sync();
        await fd?.close();
        handle = undefined;
        // Room first, then the file: the folder never holds more than its limit.
        await this.evict((await stat(part)).size);
        await rename(part, file);
        entry.complete = true;
        this.log.info("song transcoded", {
          song: what.songId,
          level: what.level,
          bytes: entry.reader.audioBytes,
          ms: Date.now() - started,
        });
      } catch (err) {
        entry.failure ??= err instanceof Error ? err : new Error(String(err));
        if (!this.closed)
          this.log.warn("transcode failed", { song: what.songId, error: String(err) });
        const h = handle;
        handle = undefined;
        await writes.catch(() => undefined);
        await h?.then((fd) => fd.close()).catch(() => undefined);
        await unlink(part).catch(() => undefined);
      } finally {
        entry.encoder = undefined;
        entry.notify();
        if (entry.users === 0) this.released(entry);
      }
    })();
    return entry;
  }

  /** Nobody reads it: forget it (an encode in progress runs to its end first). */
  private released(entry: Entry): void {
    if (entry.users > 0 || entry.encoder) return;
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
  }

  private async files(): Promise<Array<{ file: string; size: number; mtime: number }>> {
    const out: Array<{ file: string; size: number; mtime: number }> = [];
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!name.endsWith(".opus")) continue;
      const file = path.join(this.dir, name);
      const s = await stat(file).catch(() => undefined);
      if (s) out.push({ file, size: s.size, mtime: s.mtimeMs });
    }
    return out;
  }

  /** Remove the least recently used files until the folder, with `adding` more, is under its limit. */
  private async evict(adding = 0): Promise<void> {
    const files = (await this.files()).sort((a, b) => a.mtime - b.mtime);
    let total = files.reduce((sum, f) => sum + f.size, adding);
    for (const f of files) {
      if (total <= this.limitBytes) break;
      // A stream reading it keeps its packets in memory: removing the file is safe.
      await unlink(f.file).catch(() => undefined);
      total -= f.size;
      this.log.info("transcode cache evicted", { file: path.basename(f.file), bytes: f.size });
    }
  }
}

async function keyOf(what: EncodedRequest): Promise<string> {
  const s = await stat(what.file);
  const parts = [encodeVersion, what.file, s.size, s.mtimeMs, s.ino, what.bitrate, what.channels];
  return createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 16);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
