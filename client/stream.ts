/**
 * The client half of streaming (protocol: actors/file/protocol.ts).
 *
 *   const node = await findFileNode(nc);                  // the prime picks one
 *   const songs = await listSongs(nc, session, node);
 *   const playback = await play(nc, session, songs[0].id, { node, from: 30 });
 *   for await (const chunk of playback) speaker.write(chunk.data);
 *   await playback.pause(); await playback.resume(); await playback.seek(12.5);
 *   await playback.stop();
 *
 * A Playback is an async iterator of PCM chunks in order, with no gap and
 * no repeat: it checks every chunk's epoch and byte offset, drops stale and
 * duplicate chunks (after a seek or a broker restart), trims overlaps, and
 * asks the node to resend when it sees a gap. By default a chunk counts as
 * played once the next one is asked for, and that position is reported to
 * the node, which stays a window (4 chunks of 500 ms) ahead of it; a player
 * with its own output buffer passes `manualPosition` and calls `played()`.
 * The iterator waits while paused, and ends after the last chunk of the song
 * or when the stream ends otherwise (see `ended`).
 */
import { at } from "../wire/contract.js";
import { fileControl, filePlay, fileSongs } from "../wire/file.js";
import { primeAssign } from "../wire/prime.js";
import {
  createInbox,
  type Msg,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";
import { call } from "../actors/runtime/endpoint.js";
import { ChorusError } from "../wire/errors.js";
import {
  decodeChunk,
  type ChunkHeader,
  type ControlReply,
  type ControlRequest,
  type EndReason,
  type PlayReply,
} from "../wire/file.js";
import { frameBytes, type AudioFormat as WireFormat, type Song } from "../wire/media.js";
import type { Session } from "../wire/session.js";

export type { EndReason, Session, Song };

/** A stream's format, with the bytes of one frame. */
export interface AudioFormat extends WireFormat {
  blockAlign: number;
}

/** A file node to talk to; `claim` is the slot the prime reserved there. */
export interface FileNodeRef {
  id: string;
  claim?: string;
}

/** One chunk as the listener gets it: the wire header's position fields and its PCM. */
export type PcmChunk = Pick<
  ChunkHeader,
  "seq" | "epoch" | "frame" | "byte" | "time" | "frames" | "format"
> & {
  /** Raw PCM as in the WAV data chunk (little-endian; 8-bit is unsigned). */
  data: Uint8Array;
};

export interface StreamEnd {
  reason: EndReason;
  message?: string;
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
  /** Called when the reported position changes, in seconds. */
  onPosition?: (seconds: number) => void;
  /** Request timeout (default 20 s for finding a node, 5 s for the rest). */
  timeoutMs?: number;
}

const controlTimeoutMs = 5000;
/** No message (chunk or consumer heartbeat) for this long: ask the node whether we still stream. */
const silenceMs = 5000;
/** Reports failing for this long (not just a broker restart): the node is gone. */
const lostAfterMs = 10_000;

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
  timeoutMs = controlTimeoutMs,
): Promise<Song[]> {
  const id = node === undefined ? (await findFileNode(nc)).id : nodeId(node);
  return call(nc, at(fileSongs, id), { session: sessionOf(session) }, timeoutMs);
}

/** Start playing `song` (an id or file name from the listing). */
export async function play(
  nc: NatsConnection,
  session: Session,
  song: string,
  options: PlayOptions = {},
): Promise<Playback> {
  const node =
    options.node === undefined
      ? await findFileNode(nc, options.timeoutMs)
      : typeof options.node === "string"
        ? { id: options.node }
        : options.node;
  const deliver = createInbox();
  const playback = new Playback(nc, sessionOf(session), node.id, options);
  playback.listen(deliver);
  try {
    const reply = await call(
      nc,
      at(filePlay, node.id),
      { session: sessionOf(session), song, from: options.from, deliver, claim: node.claim },
      options.timeoutMs ?? controlTimeoutMs,
    );
    playback.started(reply);
  } catch (err) {
    playback.abandon();
    throw err;
  }
  return playback;
}

type Item = { chunk: PcmChunk } | { end: StreamEnd };

export class Playback implements AsyncIterable<PcmChunk> {
  streamId = "";
  song!: Song;
  format!: AudioFormat;
  chunkFrames = 0;
  /** Resolves once the stream has ended, with why. */
  readonly ended: Promise<StreamEnd>;

  private sub?: Subscription;
  private epoch = 0;
  /** Chunks of epochs below this are stale (a seek or sync is on its way). */
  private minEpoch = 0;
  private expectedByte = 0;
  private playedFrame = 0;
  private reportedFrame = -1;
  private paused = false;
  /** Seeks in flight: nothing is yielded until they are answered. */
  private seeking = 0;
  private finished?: StreamEnd;
  private syncing = false;
  private readonly queue: Item[] = [];
  private wake?: () => void;
  private lastYielded?: PcmChunk;
  private reporting = false;
  private reportAgain = false;
  private lastMessageAt = Date.now();
  private watchdog?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private failingSince?: number;
  private controlChain: Promise<unknown> = Promise.resolve();
  private resolveEnded!: (end: StreamEnd) => void;
  /** Messages that arrived before the play reply told us our stream id. */
  private early: Msg[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly session: Session,
    readonly node: string,
    private readonly options: PlayOptions,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  /** Seconds played, as last reported to the node. */
  get position(): number {
    return this.format ? this.playedFrame / this.format.sampleRate : 0;
  }

  get state(): "playing" | "paused" | "ended" {
    return this.finished ? "ended" : this.paused ? "paused" : "playing";
  }

  /** @internal Subscribe to our inbox before asking to play. */
  listen(deliver: string): void {
    this.sub = this.nc.subscribe(deliver, {
      callback: (err, msg) => {
        if (err) return;
        try {
          this.onMessage(msg);
        } catch {
          // A malformed message must not stall the connection; a gap shows up later.
        }
      },
    });
  }

  /** @internal */
  started(reply: PlayReply): void {
    this.streamId = reply.streamId;
    this.song = reply.song;
    this.format = { ...reply.format, blockAlign: frameBytes(reply.format) };
    this.chunkFrames = reply.chunkFrames;
    this.epoch = reply.epoch;
    this.minEpoch = reply.epoch;
    this.playedFrame = reply.frame;
    this.expectedByte = reply.frame * this.format.blockAlign;
    for (const msg of this.early.splice(0)) this.onMessage(msg);
    this.watchdog = setInterval(() => this.checkSilence(), 1000);
  }

  /** @internal The play request failed. */
  abandon(): void {
    this.sub?.unsubscribe();
  }

  [Symbol.asyncIterator](): AsyncIterator<PcmChunk> {
    return { next: () => this.next() };
  }

  /** The same as iterating the Playback itself. */
  chunks(): AsyncIterable<PcmChunk> {
    return this;
  }

  private async next(): Promise<IteratorResult<PcmChunk>> {
    if (this.lastYielded && !this.options.manualPosition) {
      const last = this.lastYielded;
      this.lastYielded = undefined;
      if (last.epoch === this.epoch) this.played(last.frame + last.frames);
    }
    for (;;) {
      const item = this.paused || this.seeking > 0 ? undefined : this.queue.shift();
      if (item && "chunk" in item) {
        this.lastYielded = item.chunk;
        return { value: item.chunk, done: false };
      }
      if (item && "end" in item) {
        this.finish(item.end);
        if (item.end.reason === "eos") this.played(this.song ? this.endFrame() : 0);
        return { value: undefined, done: true };
      }
      if (this.finished) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Report that playback has reached `frame` (the node stays a window ahead of it). */
  played(frame: number): void {
    if (frame <= this.playedFrame && this.reportedFrame >= 0) return;
    this.playedFrame = Math.max(this.playedFrame, frame);
    this.options.onPosition?.(this.position);
    // Call as often as you like: a report goes out per half chunk played (and at the end).
    const step = Math.max(1, Math.floor(this.chunkFrames / 2));
    const atEnd = this.song !== undefined && this.playedFrame >= this.endFrame();
    if (this.reportedFrame < 0 || this.playedFrame - this.reportedFrame >= step || atEnd) {
      void this.report();
    }
  }

  /** Stop yielding chunks at once, and ask the node to stop sending. */
  async pause(): Promise<void> {
    this.paused = true;
    await this.control({ op: "pause" }).catch((err: unknown) => {
      this.paused = false;
      this.wakeUp();
      throw err;
    });
  }

  async resume(): Promise<void> {
    await this.control({ op: "resume" });
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
      const reply = await this.control({ op: "seek", at: seconds });
      this.enterEpoch(reply.epoch, reply.frame * this.format.blockAlign);
      // The node set the listener's position to the seek point itself.
      this.playedFrame = reply.frame;
      this.reportedFrame = reply.frame;
    } finally {
      // Yield again only now: after a seek from the new epoch, after a refusal what was queued.
      this.seeking--;
      this.wakeUp();
    }
    this.options.onPosition?.(this.position);
  }

  async stop(): Promise<void> {
    if (this.finished) return;
    this.finish({ reason: "stopped" });
    await this.control({ op: "stop" }).catch(() => undefined);
  }

  private control(
    op: { op: "pause" | "resume" | "stop" } | { op: "seek"; at: number },
  ): Promise<ControlReply> {
    const run = (): Promise<ControlReply> =>
      call(
        this.nc,
        at(fileControl, this.node),
        { ...op, session: this.session, streamId: this.streamId } satisfies ControlRequest,
        this.options.timeoutMs ?? controlTimeoutMs,
      );
    const next = this.controlChain.then(run, run);
    this.controlChain = next.catch(() => undefined);
    return next;
  }

  /** Send the latest position; one report in flight at a time. */
  private async report(): Promise<void> {
    if (this.reporting) {
      this.reportAgain = true;
      return;
    }
    if (!this.streamId || this.finished?.reason === "stopped") return;
    this.reporting = true;
    try {
      do {
        this.reportAgain = false;
        const frame = this.playedFrame;
        await call(
          this.nc,
          at(fileControl, this.node),
          {
            op: "position",
            session: this.session,
            streamId: this.streamId,
            frame,
            epoch: this.epoch,
          } satisfies ControlRequest,
          controlTimeoutMs,
        );
        this.reportedFrame = frame;
        this.failingSince = undefined;
        // The last report of a finished song still goes out: the node ends
        // the stream (and frees its slot) only once it hears the end was played.
      } while (this.reportAgain && (!this.finished || this.finished.reason === "eos"));
    } catch (err) {
      this.lostNode(err);
    } finally {
      this.reporting = false;
    }
  }

  /**
   * A report failed. NOT_FOUND: the node no longer has our stream. Anything
   * else may be a broker restart in progress: try again each second, and
   * give up only when it lasts `lostAfterMs`.
   */
  private lostNode(err: unknown): void {
    if (this.finished) return;
    const code = err instanceof ChorusError ? err.code : "INTERNAL";
    const message = err instanceof Error ? err.message : String(err);
    this.failingSince ??= Date.now();
    if (code === "NOT_FOUND" || Date.now() - this.failingSince > lostAfterMs) {
      this.end({ reason: "error", message: `the stream is gone: ${message}` });
      return;
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.report(), 1000);
  }

  private checkSilence(): void {
    if (this.finished) return;
    if (Date.now() - this.lastMessageAt > silenceMs) {
      this.lastMessageAt = Date.now();
      this.reportedFrame = -1;
      void this.report();
    }
  }

  private onMessage(msg: Msg): void {
    this.lastMessageAt = Date.now();
    if (msg.headers && msg.headers.code === 100) {
      // Flow control request, or a heartbeat saying the consumer waits for our answer.
      if (msg.reply) msg.respond();
      const stalled = msg.headers.get("Nats-Consumer-Stalled");
      if (stalled) this.nc.publish(stalled);
      return;
    }
    if (msg.data.length === 0) return;
    if (!this.streamId) {
      this.early.push(msg);
      return;
    }
    const { header, pcm } = decodeChunk(msg.data);
    this.accept(header, pcm);
  }

  /** Keep the song's bytes exact: drop stale and repeated chunks, trim overlaps, sync on gaps. */
  private accept(header: ChunkHeader, pcm: Uint8Array): void {
    if (header.stream !== this.streamId || this.finished) return;
    if (header.epoch < Math.max(this.epoch, this.minEpoch)) return;
    if (header.epoch > this.epoch) this.enterEpoch(header.epoch, header.byte);
    if (header.end) {
      if (header.end === "eos") {
        if (header.byte === this.expectedByte) this.push({ end: { reason: "eos" } });
        else if (header.byte > this.expectedByte) this.askSync();
        return;
      }
      this.end({ reason: header.end, message: header.message });
      return;
    }
    let { byte } = header;
    let data = pcm;
    if (byte + data.length <= this.expectedByte) return;
    if (byte > this.expectedByte) {
      this.askSync();
      return;
    }
    if (byte < this.expectedByte) {
      data = data.subarray(this.expectedByte - byte);
      byte = this.expectedByte;
    }
    const { blockAlign, sampleRate } = this.format;
    const frame = byte / blockAlign;
    const chunk: PcmChunk = {
      seq: header.seq,
      epoch: header.epoch,
      frame,
      byte,
      time: frame / sampleRate,
      frames: data.length / blockAlign,
      data,
      format: this.format,
    };
    this.expectedByte = byte + data.length;
    this.options.onChunk?.(chunk);
    this.push({ chunk });
  }

  private enterEpoch(epoch: number, byte: number): void {
    if (epoch <= this.epoch) return;
    this.epoch = epoch;
    this.minEpoch = Math.max(this.minEpoch, epoch);
    this.expectedByte = byte;
    this.queue.length = 0;
    this.lastYielded = undefined;
    this.syncing = false;
    this.reportedFrame = -1;
  }

  /** We missed something: ask the node to resend from where we are (a new epoch). */
  private askSync(): void {
    if (this.syncing) return;
    this.syncing = true;
    this.minEpoch = this.epoch + 1;
    const frame = this.expectedByte / this.format.blockAlign;
    void call(
      this.nc,
      at(fileControl, this.node),
      { op: "sync", session: this.session, streamId: this.streamId, frame },
      controlTimeoutMs,
    )
      .then((reply) => this.enterEpoch(reply.epoch, frame * this.format.blockAlign))
      .catch((err: unknown) => this.lostNode(err))
      .finally(() => (this.syncing = false));
  }

  private endFrame(): number {
    return this.song.bytes / this.format.blockAlign;
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

  /** The stream ended on the node's side: stop at once, dropping what is queued. */
  private end(end: StreamEnd): void {
    this.queue.length = 0;
    this.finish(end);
  }

  private finish(end: StreamEnd): void {
    if (this.finished) return;
    this.finished = end;
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    // Let the last position report go out before we stop listening.
    setTimeout(() => this.sub?.unsubscribe(), 1000).unref();
    this.resolveEnded(end);
    this.wakeUp();
  }
}

function nodeId(node: FileNodeRef | string): string {
  return typeof node === "string" ? node : node.id;
}

function sessionOf(session: Session): Session {
  return { authNode: session.authNode, sessionId: session.sessionId, token: session.token };
}
