/**
 * `stream` and `download` over HTTP, fed by file nodes.
 *
 *  - raw (download, `stream?format=raw`): the original file's exact bytes,
 *    read from a file node 256 KiB at a time (`chorus.file.<id>.read`),
 *    with HTTP Range (206, Content-Range; 416 past the end). One read is
 *    kept in flight ahead of the socket.
 *  - WAV (`stream` otherwise): a RIFF header, then the PCM of the file
 *    node's play stream from `timeOffset`, written as fast as the client
 *    takes it (the node stays a window ahead of what we have written).
 *
 * A client that goes away stops the work at once: no further reads, and
 * the play stream is stopped at its file node.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { wavHeader } from "../../client/audio/wav.js";
import { ChorusError } from "../../wire/errors.js";
import { readMaxBytes, type ReadReply } from "../../wire/file.js";
import { frameBytes, type Song } from "../../wire/media.js";
import type { Logger } from "../runtime/log.js";
import type { FileNodes } from "./files.js";
import { parseRange } from "./range.js";
import type { GatewayUser } from "./users.js";
import type { UserSession } from "../../client/auth.js";
import { contentTypeOf, suffixOf } from "./views.js";

/** Resolves once the response can take more (or is gone). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

async function write(res: ServerResponse, data: Uint8Array): Promise<boolean> {
  if (res.destroyed) return false;
  if (!res.write(data)) await drained(res);
  return !res.destroyed;
}

function asciiName(song: Song): string {
  return song.file.replace(/[^\x20-\x7e]|["\\]/g, "_");
}

export async function sendRaw(
  files: FileNodes,
  user: GatewayUser,
  song: Song,
  req: IncomingMessage,
  res: ServerResponse,
  attachment: boolean,
  /** Log in again with the request's credentials (the session's auth node went away). */
  relogin: () => Promise<GatewayUser>,
): Promise<void> {
  let session = user.session;
  // A session that ended mid-download (its auth node gone): once more with a new one.
  const read = async (offset: number): Promise<ReadReply> => {
    try {
      return await files.read(session, song.id, offset, readMaxBytes);
    } catch (err) {
      if (!(err instanceof ChorusError && err.code === "UNAUTHORIZED")) throw err;
      session = (await relogin()).session;
      return files.read(session, song.id, offset, readMaxBytes);
    }
  };
  // The file's size comes with the first read: read where the range starts.
  const header = req.headers.range;
  const suffix = /^bytes=-\d+$/.test(header?.trim() ?? "");
  const probeAt = suffix ? 0 : Number(/^bytes=(\d+)-/.exec(header?.trim() ?? "")?.[1] ?? 0);
  let first = await read(probeAt);
  const { size } = first;
  const range = parseRange(header, size);
  const headers: Record<string, string | number> = {
    "Content-Type": contentTypeOf(song),
    "Accept-Ranges": "bytes",
  };
  if (attachment) {
    headers["Content-Disposition"] = `attachment; filename="${asciiName(song)}"`;
  }
  if (range.kind === "unsatisfiable") {
    res.writeHead(416, { ...headers, "Content-Range": `bytes */${size}` });
    res.end();
    return;
  }
  const start = range.kind === "range" ? range.start : 0;
  const end = range.kind === "range" ? range.end : size - 1;
  const length = Math.max(0, end - start + 1);
  if (range.kind === "range") {
    res.writeHead(206, {
      ...headers,
      "Content-Range": `bytes ${start}-${end}/${size}`,
      "Content-Length": length,
    });
  } else {
    res.writeHead(200, { ...headers, "Content-Length": length });
  }
  if (req.method === "HEAD" || length === 0) {
    res.end();
    return;
  }
  if (first.offset !== start) first = await read(start);
  let offset = start;
  let next: Promise<ReadReply> | undefined = Promise.resolve(first);
  while (next && offset <= end) {
    const reply = await next;
    const bytes = Buffer.from(reply.data, "base64");
    if (bytes.length === 0) break;
    const take = bytes.subarray(0, Math.min(bytes.length, end - offset + 1));
    offset += take.length;
    // Ask for the next piece while this one is on its way to the client.
    next = offset <= end ? read(offset) : undefined;
    if (!(await write(res, take))) {
      // The client left: drop the read in flight and stop.
      next?.catch(() => undefined);
      return;
    }
  }
  res.end();
}

/** HEAD of a WAV stream: its headers, without asking a file node to play. */
export function sendWavHead(song: Song, from: number, res: ServerResponse): void {
  const block = frameBytes(song.format);
  const startByte = Math.floor(from * song.format.sampleRate) * block;
  res.writeHead(200, {
    "Content-Type": "audio/wav",
    "Content-Length": 44 + Math.max(0, song.bytes - startByte),
  });
  res.end();
}

export async function sendWav(
  files: FileNodes,
  user: GatewayUser,
  song: Song,
  from: number,
  res: ServerResponse,
  log: Logger,
  /** Log in again with the request's credentials (the session's auth node went away). */
  relogin: () => Promise<GatewayUser>,
): Promise<void> {
  const reader = await files.play(user.session, song.id, from);
  let done = false;
  // The session ended under the stream (its auth node is gone): a new session
  // of the user takes the stream over at its file node, and it plays on.
  const follow = (session: UserSession): void =>
    session.onExpired(() => {
      if (done) return;
      relogin()
        .then(async (next) => {
          if (done) return;
          await reader.rebind(next.session);
          follow(next.session);
          log.info("stream moved to a new session", { stream: reader.streamId });
        })
        .catch((err: unknown) => {
          log.warn("cannot move a stream to a new session", { error: String(err) });
        });
    });
  follow(user.session);
  res.once("close", () => (done = true));
  const format = reader.format;
  const startByte = Math.round(reader.position * format.sampleRate) * frameBytes(format);
  const dataBytes = Math.max(0, reader.song.bytes - startByte);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    void reader.stop().catch((err: unknown) => {
      log.debug("cannot stop a stream", { stream: reader.streamId, error: String(err) });
    });
  };
  res.once("close", () => {
    if (!res.writableFinished) stop();
  });
  res.writeHead(200, {
    "Content-Type": "audio/wav",
    "Content-Length": 44 + dataBytes,
    "X-Content-Duration": String(Math.max(0, reader.song.duration - from)),
    "X-Chorus-Source": suffixOf(song),
  });
  if (!(await write(res, wavHeader(format, dataBytes)))) return stop();
  let written = 0;
  for await (const chunk of reader) {
    const room = dataBytes - written;
    const pcm = chunk.data.length > room ? chunk.data.subarray(0, room) : chunk.data;
    written += pcm.length;
    if (!(await write(res, pcm))) return stop();
    if (written >= dataBytes) break;
  }
  // The node ended the stream early (stopping, session gone): the client sees a short body.
  if (written < dataBytes) {
    res.destroy();
    return;
  }
  res.end();
}
