/**
 * `chorus.file.<id>.read`: a byte range of a song's original file, for
 * clients that want the file itself (the HTTP gateway's `download` and
 * `stream?format=raw`, with HTTP Range). The session is verified at its
 * auth node on every read, as for songs and play; a read past the end
 * answers no bytes with the file's size, so the caller can say 416.
 */
import { open } from "node:fs/promises";
import { ChorusError } from "../../wire/errors.js";
import type { ReadReply, ReadRequest } from "../../wire/file.js";
import type { Session } from "../../wire/session.js";
import type { Catalogue } from "./catalogue.js";

/** A session that read within this long counts as one download under way. */
export const readingMs = 5000;
const maxTracked = 10_000;

export class RawReader {
  /** Sessions by when they last read: downloads count as load, so the node does not idle out under one. */
  private readonly lastRead = new Map<string, number>();

  constructor(
    private readonly catalogue: Catalogue,
    private readonly verify: (session: Session) => Promise<unknown>,
  ) {}

  /** Sessions reading now (a read within `readingMs`). */
  get active(): number {
    const since = Date.now() - readingMs;
    for (const [id, at] of this.lastRead) {
      if (at >= since) break;
      this.lastRead.delete(id);
    }
    return this.lastRead.size;
  }

  async read(req: ReadRequest): Promise<ReadReply> {
    const reply = await this.readRange(req);
    // Oldest first: re-inserted on every read, so the map stays in time order.
    this.lastRead.delete(req.session.sessionId);
    this.lastRead.set(req.session.sessionId, Date.now());
    if (this.lastRead.size > maxTracked)
      this.lastRead.delete(this.lastRead.keys().next().value ?? "");
    return reply;
  }

  private async readRange(req: ReadRequest): Promise<ReadReply> {
    const [, song] = await Promise.all([
      this.verify(req.session),
      this.catalogue.resolve(req.song),
    ]);
    let handle;
    try {
      handle = await open(song.path, "r");
    } catch {
      throw new ChorusError("NOT_FOUND", "no such song in the music folder");
    }
    try {
      const { size } = await handle.stat();
      if (req.offset >= size) return { size, offset: req.offset, data: "" };
      const length = Math.min(req.length, size - req.offset);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, req.offset);
      return { size, offset: req.offset, data: buffer.subarray(0, bytesRead).toString("base64") };
    } finally {
      await handle.close();
    }
  }
}
