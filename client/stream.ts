/**
 * Streaming for scripts (protocol: wire/file.ts; the player uses
 * client/file-source.ts instead):
 *
 *   const node = await findFileNode(nc);                  // the prime picks one
 *   const songs = await listSongs(nc, session, node);
 *   const reader = await play(nc, session, songs[0].id, { node, from: 30 });
 *   for await (const chunk of reader) speaker.write(chunk.data);
 *   await reader.pause(); await reader.resume(); await reader.seek(12.5);
 *   await reader.stop();
 *
 * A ChunkReader is an async iterator of PCM chunks in order, with no gap and
 * no repeat (client/file-stream.ts keeps them in order, the reader trims
 * what overlaps). By default a chunk
 * counts as played once the next one is asked for, and that position is
 * reported to the node, which stays a window ahead of it; a reader with its
 * own output buffer passes `manualPosition` and calls `played()`. The
 * iterator waits while paused or seeking, and ends after the last chunk of
 * the song or when the stream ends otherwise (see `ended`).
 */
import { at } from "../wire/contract.js";
import { fileSongs, type Codec } from "../wire/file.js";
import type { Quality } from "../wire/quality.js";
import { primeAssign } from "../wire/prime.js";
import type { NatsConnection } from "@nats-io/transport-node";
import { call } from "../actors/runtime/endpoint.js";
import { frameBytes, type AudioFormat, type Song } from "../wire/media.js";
import type { Session } from "../wire/session.js";
import {
  openFileStream,
  wireSession,
  type ClientSession,
  type FileNodeStream,
  type StreamEnd,
} from "./file-stream.js";
import { fromNext } from "./audio/trim.js";
import type { EndReason, StreamListener } from "./source.js";

export type { AudioFormat, ClientSession, EndReason, Session, Song, StreamEnd };

/** A file node to talk to; `claim` is the slot the prime reserved there. */
export interface FileNodeRef {
  id: string;
  claim?: string;
}

/** One chunk as the reader yields it: where it starts in the song, and its PCM. */
export interface PcmChunk {
  frame: number;
  byte: number;
  /** Play time of the first frame, seconds. */
  time: number;
  frames: number;
  format: AudioFormat;
  /** Raw PCM as in the WAV data chunk (little-endian; 8-bit is unsigned). */
  data: Uint8Array;
}

export interface PlayOptions {
  /** The node to play from (default: ask the prime). */
  node?: FileNodeRef | string;
  /** Start position, seconds. */
  from?: number;
  /** Report the playback position yourself with `played()`. */
  manualPosition?: boolean;
  /** Called for every chunk as it is accepted (before the iterator yields it). */
  onChunk?: (chunk: PcmChunk) => void;
  /** Request timeout (default 20 s for finding a node, 5 s for the rest). */
  timeoutMs?: number;
  /** The stream's quality level (default lossless). */
  quality?: Quality;
  /** False: a lossy stream's chunks stay the Opus packets sent (a benchmark's listeners). */
  decode?: boolean;
}

const requestTimeoutMs = 5000;

/** Ask the prime for the least-loaded file node with room (it spawns one when none has). */
export async function findFileNode(nc: NatsConnection, timeoutMs = 20_000): Promise<FileNodeRef> {
  const { node, claim } = await call(nc, at(primeAssign), { kind: "file" }, timeoutMs);
  return { id: node.id, claim };
}

/** The catalogue of a file node (one the prime picks by default). */
export async function listSongs(
  nc: NatsConnection,
  session: Session,
  node?: FileNodeRef | string,
  timeoutMs = requestTimeoutMs,
): Promise<Song[]> {
  const id = node === undefined ? (await findFileNode(nc)).id : nodeId(node);
  return call(nc, at(fileSongs, id), { session: wireSession(session) }, timeoutMs);
}

/** Start playing `song` (an id or file name from the listing). */
export async function play(
  nc: NatsConnection,
  session: ClientSession,
  song: string,
  options: PlayOptions = {},
): Promise<ChunkReader> {
  const node =
    options.node === undefined
      ? await findFileNode(nc, options.timeoutMs)
      : typeof options.node === "string"
        ? { id: options.node }
        : options.node;
  const timeoutMs = options.timeoutMs ?? requestTimeoutMs;
  const stream = await openFileStream(nc, session, node.id, song, {
    from: options.from,
    claim: node.claim,
    playTimeoutMs: timeoutMs,
    controlTimeoutMs: timeoutMs,
    quality: options.quality,
    decode: options.decode,
  });
  return new ChunkReader(stream, options);
}

type Item = { chunk: PcmChunk } | { end: true };

/** A file node stream read as an async iterator of chunks. */
export class ChunkReader implements AsyncIterable<PcmChunk> {
  private readonly queue: Item[] = [];
  private wake?: () => void;
  private paused = false;
  /** Seeks in flight: nothing is yielded until they are answered. */
  private seeking = 0;
  /** The song's end was yielded, or the node ended the stream. */
  private done = false;
  private lastYielded?: PcmChunk;
  /** The first byte the reader lacks: what comes again before it is cut off. */
  private nextByte: number;

  constructor(
    private readonly stream: FileNodeStream,
    private readonly options: Pick<PlayOptions, "manualPosition" | "onChunk">,
  ) {
    this.nextByte = stream.startByte;
    const listener: StreamListener = {
      chunk: (byte, pcm) => this.onChunk(byte, pcm),
      end: (reason) => this.onEnd(reason),
      moved: (byte) => {
        // A seek was answered: what is queued is from before it.
        this.queue.length = 0;
        this.lastYielded = undefined;
        this.nextByte = byte;
      },
      paused: () => undefined,
    };
    stream.listen(listener);
  }

  get streamId(): string {
    return this.stream.id;
  }

  get node(): string {
    return this.stream.node;
  }

  get song(): Song {
    return this.stream.reply.song;
  }

  get format(): AudioFormat {
    return this.stream.reply.format;
  }

  get chunkFrames(): number {
    return this.stream.reply.chunkFrames;
  }

  /** How a lossy stream is coded (undefined: the song's own PCM). */
  get codec(): Codec | undefined {
    return this.stream.reply.codec;
  }

  /** Bytes of chunk messages received so far. */
  get wireBytes(): number {
    return this.stream.wireBytes;
  }

  /** Resolves once the stream has ended, with why. */
  get ended(): Promise<StreamEnd> {
    return this.stream.ended;
  }

  /** Seconds played, as last reported to the node. */
  get position(): number {
    return this.stream.framesPlayed / this.format.sampleRate;
  }

  get state(): "playing" | "paused" | "ended" {
    return this.stream.finished ? "ended" : this.paused ? "paused" : "playing";
  }

  [Symbol.asyncIterator](): AsyncIterator<PcmChunk> {
    return { next: () => this.next() };
  }

  /** The same as iterating the reader itself. */
  chunks(): AsyncIterable<PcmChunk> {
    return this;
  }

  /** Report that playback has reached `frame` (the node stays a window ahead of it). */
  played(frame: number): void {
    this.stream.reportFrame(frame);
  }

  /** Stop yielding chunks at once, and ask the node to stop sending. */
  async pause(): Promise<void> {
    this.paused = true;
    await this.stream.pause().catch((err: unknown) => {
      this.paused = false;
      this.wakeUp();
      throw err;
    });
  }

  async resume(): Promise<void> {
    await this.stream.resume();
    this.paused = false;
    this.wakeUp();
  }

  /** Jump to `seconds`; the next chunk the iterator yields starts there. */
  async seek(seconds: number): Promise<void> {
    // Yield nothing while the seek is on its way, but keep what is queued: a
    // refused seek must lose nothing (the node stays only a window ahead of
    // what we yield, so dropped chunks would stall the stream for good).
    this.seeking++;
    this.lastYielded = undefined;
    try {
      await this.stream.seek(seconds);
    } finally {
      // Yield again only now: after a seek from the new point, after a refusal what was queued.
      this.seeking--;
      this.wakeUp();
    }
  }

  /** Move the stream to a new session of the same user (the old one's auth node is gone). */
  async rebind(session: Session): Promise<void> {
    await this.stream.rebind(session);
  }

  async stop(): Promise<void> {
    const stopping = this.stream.stop();
    this.wakeUp();
    await stopping;
  }

  private onChunk(at: number, pcm: Uint8Array): void {
    const fresh = fromNext(this.nextByte, at, pcm);
    if (!fresh) return;
    const { byte, pcm: data } = fresh;
    this.nextByte = byte + data.length;
    const { sampleRate } = this.format;
    const blockAlign = frameBytes(this.format);
    const frame = byte / blockAlign;
    const chunk: PcmChunk = {
      frame,
      byte,
      time: frame / sampleRate,
      frames: data.length / blockAlign,
      format: this.format,
      data,
    };
    this.options.onChunk?.(chunk);
    this.push({ chunk });
  }

  private onEnd(reason: EndReason): void {
    if (reason === "eos") {
      this.push({ end: true });
      return;
    }
    // Ended on the node's side: stop at once, dropping what is queued.
    this.queue.length = 0;
    this.done = true;
    this.wakeUp();
  }

  private async next(): Promise<IteratorResult<PcmChunk>> {
    if (this.lastYielded && !this.options.manualPosition) {
      const last = this.lastYielded;
      this.lastYielded = undefined;
      this.played(last.frame + last.frames);
    }
    for (;;) {
      const item = this.paused || this.seeking > 0 ? undefined : this.queue.shift();
      if (item && "chunk" in item) {
        this.lastYielded = item.chunk;
        return { value: item.chunk, done: false };
      }
      if (item) this.done = true;
      // Stopped: what was queued before the stop is still yielded.
      if (this.done || this.stream.finished?.reason === "stopped") {
        return { value: undefined, done: true };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private push(item: Item): void {
    this.queue.push(item);
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

function nodeId(node: FileNodeRef | string): string {
  return typeof node === "string" ? node : node.id;
}
