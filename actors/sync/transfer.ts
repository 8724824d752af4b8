/**
 * Moving one file through the object store. The sender streams the file in
 * and proves the object holds exactly the content it announced; the receiver
 * streams the object out to a hidden temporary file (with backpressure, so
 * memory stays flat for any size), checks size, SHA-256 and that it is the
 * music its name says (the catalogue's rules, music.ts), and
 * only then links it into place. Any failure removes the temporary file.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { link, lstat, open, rename, statfs, unlink } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { ChorusError } from "../../wire/errors.js";
import { conflictName, tempPrefix, tempSuffix } from "../../wire/safe-names.js";
import type { ManifestEntry } from "../../wire/sync.js";
import { hashFile } from "./manifest.js";
import { chunkBytes, digestHex, syncStream, type SyncStore } from "./store.js";
import { musicStateOfFile } from "./music.js";

/** Free space a receiver keeps beyond the file itself. */
export const diskReserveBytes = 16 * 2 ** 20;
/** A receive with no chunk for this long is given up (the object is gone or the broker is). */
export const stallMs = 15_000;

/**
 * Put `dir/entry.name` into the store as `object`. Throws (and leaves no
 * object) unless what was sent has exactly the announced size and hash.
 */
export async function sendFile(
  store: SyncStore,
  dir: string,
  entry: ManifestEntry,
  object: string,
  signal?: AbortSignal,
): Promise<void> {
  const file = path.join(dir, entry.name);
  const before = await lstat(file).catch(() => undefined);
  if (!before?.isFile())
    throw new ChorusError("NOT_FOUND", "file is no longer in the music folder");
  if (before.size !== entry.size) throw changed();
  const input = createReadStream(file, { highWaterMark: chunkBytes, signal });
  const info = await store.os.put(
    { name: object, options: { max_chunk_size: chunkBytes } },
    Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>,
  );
  const after = await lstat(file).catch(() => undefined);
  const same =
    info.size === entry.size &&
    digestHex(info.digest) === entry.hash &&
    after?.size === before.size &&
    after.mtimeMs === before.mtimeMs;
  if (!same) {
    await store.os.delete(object).catch(() => undefined);
    throw changed();
  }
}

function changed(): ChorusError {
  return new ChorusError("UNAVAILABLE", "file changed while being sent; retried next round");
}

export interface ReceiveOptions {
  object: string;
  name: string;
  hash: string;
  size: number;
  /**
   * When `name` already exists with other content: "aside" moves the local
   * copy to a conflict name and takes the name (the sender's copy wins);
   * "keep" keeps the local copy and stores the incoming one under a
   * conflict name (the local copy wins).
   */
  ifExists: "aside" | "keep";
  /** Host id for conflict names: the side whose copy loses the name. */
  loserHost: string;
  signal?: AbortSignal;
}

export interface Received {
  /** The name the content now has here. */
  stored: string;
  /** Where a displaced local copy went, if one did. */
  movedAside?: string;
  /** True when the same content was already there. */
  already: boolean;
}

export async function receiveFile(
  store: SyncStore,
  dir: string,
  opts: ReceiveOptions,
): Promise<Received> {
  await ensureRoom(dir, opts.size);
  const info = await store.os.info(opts.object);
  if (!info || info.deleted) throw new ChorusError("NOT_FOUND", "transfer object not found");
  if (info.size !== opts.size || digestHex(info.digest) !== opts.hash) {
    throw new ChorusError("BAD_REQUEST", "transfer object does not match the announced hash");
  }
  const temp = path.join(dir, `${tempPrefix}${process.pid}-${opts.object}${tempSuffix}`);
  try {
    await copyChunks(store, info.nuid, info.chunks, temp, opts);
    const { state, reason } = await musicStateOfFile(temp, opts.name, opts.size);
    if (state !== "ok") {
      const what = /\.wav$/i.test(opts.name) ? "a complete WAV file" : "a playable music file";
      throw new ChorusError(
        "BAD_REQUEST",
        `received content is not ${what}${reason && state !== "incomplete" ? `: ${reason}` : ""}`,
      );
    }
    return await place(temp, dir, opts);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function ensureRoom(dir: string, size: number): Promise<void> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < size + diskReserveBytes) {
    throw new ChorusError(
      "NO_ROOM",
      `not enough disk space for ${size} bytes (${free} free, ${diskReserveBytes} kept in reserve)`,
    );
  }
}

/** Stream the object's chunks to `temp`, one bounded pull at a time, checking size and hash. */
async function copyChunks(
  store: SyncStore,
  nuid: string,
  chunks: number,
  temp: string,
  opts: ReceiveOptions,
): Promise<void> {
  const fh = await open(temp, "wx", 0o644);
  const hash = createHash("sha256");
  let bytes = 0;
  let failure: ChorusError | undefined;
  try {
    if (chunks > 0) {
      const consumer = await store.js.consumers.get(syncStream, {
        filter_subjects: store.chunkSubject(nuid),
      });
      // A pull holds at most a few chunks: the writer's pace sets the transfer's pace.
      // (Counted in messages: a byte-limited consume stalls here against nats-server 2.9.)
      const msgs = await consumer.consume({ max_messages: 4 });
      let lastChunkAt = Date.now();
      const stop = (why: ChorusError): void => {
        failure ??= why;
        msgs.stop();
      };
      const watchdog = setInterval(() => {
        if (Date.now() - lastChunkAt > stallMs) {
          stop(new ChorusError("TIMEOUT", "transfer stalled"));
        }
      }, 1000);
      const onAbort = (): void => stop(new ChorusError("UNAVAILABLE", "transfer aborted"));
      opts.signal?.addEventListener("abort", onAbort);
      let received = 0;
      try {
        for await (const m of msgs) {
          lastChunkAt = Date.now();
          hash.update(m.data);
          bytes += m.data.length;
          if (bytes > opts.size) {
            stop(new ChorusError("BAD_REQUEST", "transfer object is larger than announced"));
            break;
          }
          await fh.write(m.data);
          if (++received >= chunks) break;
        }
      } finally {
        clearInterval(watchdog);
        opts.signal?.removeEventListener("abort", onAbort);
        msgs.stop();
      }
      if (opts.signal?.aborted) failure ??= new ChorusError("UNAVAILABLE", "transfer aborted");
    }
    if (failure) throw failure;
    if (bytes !== opts.size || hash.digest("hex") !== opts.hash) {
      throw new ChorusError("BAD_REQUEST", "received content does not match its hash");
    }
    await fh.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EDQUOT") {
      throw new ChorusError("NO_ROOM", "disk full while receiving", { cause: err });
    }
    throw err;
  } finally {
    await fh.close();
  }
}

async function place(temp: string, dir: string, opts: ReceiveOptions): Promise<Received> {
  const target = path.join(dir, opts.name);
  if (await linkNew(temp, target)) return { stored: opts.name, already: false };
  if ((await hashFile(target).catch(() => undefined)) === opts.hash) {
    return { stored: opts.name, already: true };
  }
  if (opts.ifExists === "keep") {
    const stored = await linkUnderConflictName(temp, dir, opts.name, opts.loserHost, opts.hash);
    return { stored, already: false };
  }
  // The sender's copy wins: keep ours under a conflict name first, then take the name.
  const current = await hashFile(target);
  const movedAside = await linkUnderConflictName(target, dir, opts.name, opts.loserHost, current);
  await rename(temp, target);
  return { stored: opts.name, movedAside, already: false };
}

async function linkUnderConflictName(
  source: string,
  dir: string,
  name: string,
  host: string,
  hash: string,
): Promise<string> {
  for (let attempt = 1; attempt < 100; attempt++) {
    const candidate = conflictName(name, host, attempt);
    const file = path.join(dir, candidate);
    if (await linkNew(source, file)) return candidate;
    if ((await hashFile(file).catch(() => undefined)) === hash) return candidate;
  }
  throw new ChorusError("INTERNAL", "no free conflict name");
}

/**
 * Give `source`'s content the new name `target`, never replacing an existing
 * file; false when `target` exists. A hard link is atomic and refuses to
 * overwrite; where the file system has no hard links, check then rename.
 */
async function linkNew(source: string, target: string): Promise<boolean> {
  try {
    await link(source, target);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS") throw err;
  }
  if (
    await lstat(target).then(
      () => true,
      () => false,
    )
  )
    return false;
  await rename(source, target);
  return true;
}
