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

export class RawReader {
  constructor(
    private readonly catalogue: Catalogue,
    private readonly verify: (session: Session) => Promise<unknown>,
  ) {}

  async read(req: ReadRequest): Promise<ReadReply> {
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
