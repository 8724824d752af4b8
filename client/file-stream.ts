/**
 * One song streaming from a file node (protocol: wire/file.ts), pushed to
 * its listener in song order. It checks every chunk's epoch and byte
 * offset, drops stale and repeated chunks (after a seek or a broker
 * restart), and asks the node to resend when it sees a gap; a chunk that
 * overlaps what came before is passed on whole (its receiver trims it).
 * It reports the playback position it is told (`position`), and the node
 * stays a window (4 chunks of 500 ms) ahead of it.
 *
 * The player plays it through client/file-source.ts; scripts read it as an
 * async iterator through client/stream.ts.
 */
import { at } from "../wire/contract.js";
import { endedByNode, fileControl, filePlay } from "../wire/file.js";
import { type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { call } from "../actors/runtime/endpoint.js";
import { ChorusError } from "../wire/errors.js";
import {
  decodeChunk,
  type ChunkHeader,
  type ControlReply,
  type ControlRequest,
  type PlayReply,
} from "../wire/file.js";
import { frameBytes } from "../wire/media.js";
import type { Quality } from "../wire/quality.js";
import { OpusStreamDecoder } from "./audio/opus-decode.js";
import type { Session } from "../wire/session.js";
import type { PcmFormat } from "./audio/format.js";
import type { EndReason, OpenedStream, SongInfo, StreamListener } from "./source.js";

export interface StreamEnd {
  reason: EndReason;
  message?: string;
}

export interface OpenOptions {
  /** Start position, seconds. */
  from?: number;
  /** The slot the prime reserved at the node. */
  claim?: string;
  /** Timeout of the play request (default 5 s). */
  playTimeoutMs?: number;
  /** Timeout of each later pause, resume, seek and stop (default 5 s). */
  controlTimeoutMs?: number;
  /** The stream's quality level (default lossless: the song's own PCM). */
  quality?: Quality;
  /** False: a lossy stream's chunks stay the Opus packets sent (a benchmark's listeners). */
  decode?: boolean;
}

export const controlTimeoutMs = 5000;
/** No message (chunk or consumer heartbeat) for this long: ask the node whether we still stream. */
const silenceMs = 5000;
/** Reports failing for this long (not just a broker restart): the node is gone. */
const lostAfterMs = 10_000;

/** Subscribe, then ask `node` to play `song`. Nothing is pushed before `listen()`. */
export async function openFileStream(
  nc: NatsConnection,
  session: ClientSession,
  node: string,
  song: string,
  options: OpenOptions = {},
): Promise<FileNodeStream> {
  const deliver = session.newInbox();
  const stream = new FileNodeStream(
    nc,
    wireSession(session),
    node,
    options.controlTimeoutMs ?? controlTimeoutMs,
  );
  stream.subscribe(deliver);
  try {
    const reply = await call(
      nc,
      at(filePlay, node),
      {
        session: wireSession(session),
        song,
        from: options.from,
        deliver,
        claim: options.claim,
        // Only when asked for: an older node knows no such field.
        ...(options.quality && options.quality !== "lossless" && { quality: options.quality }),
      },
      options.playTimeoutMs ?? controlTimeoutMs,
    );
    stream.started(reply, options.decode !== false);
  } catch (err) {
    stream.abandon();
    throw err;
  }
  return stream;
}

export class FileNodeStream implements OpenedStream {
  id = "";
  /** The play reply: the node's view of the song, its format and chunk size. */
  reply!: PlayReply;
  song!: SongInfo;
  format!: PcmFormat;
  startByte = 0;
  readonly depth = 0;
  readonly held = false;
  /** Resolves once the stream has ended, with why. */
  readonly ended: Promise<StreamEnd>;
  /** Why it ended, once it has. */
  finished?: StreamEnd;
  /** Bytes of chunk messages received (what the stream costs on the wire). */
  wireBytes = 0;
  /** A lossy stream's decoder (its chunks carry Opus packets). */
  private decoder?: OpusStreamDecoder;

  private sub?: Subscription;
  private listener?: StreamListener;
  /** Messages that came before a listener (and before the play reply named our stream). */
  private waiting: Msg[] = [];
  private epoch = 0;
  /** Chunks of epochs below this are stale (a seek or sync is on its way). */
  private minEpoch = 0;
  private expectedByte = 0;
  /** Seeks in flight: a new epoch meanwhile is a jump, not a resend. */
  private seeking = 0;
  private playedFrame = 0;
  private reportedFrame = -1;
  private syncing = false;
  private reporting = false;
  private reportAgain = false;
  private endTold = false;
  private lastMessageAt = Date.now();
  private watchdog?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private failingSince?: number;
  private controlChain: Promise<unknown> = Promise.resolve();
  private resolveEnded!: (end: StreamEnd) => void;

  constructor(
    private readonly nc: NatsConnection,
    private session: Session,
    readonly node: string,
    private readonly controlTimeoutMs: number,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  get codec(): PlayReply["codec"] {
    return this.reply?.codec;
  }

  get quality(): Quality | undefined {
    return this.reply?.codec?.quality;
  }

  /** Frames played, as last told (the node knows this position). */
  get framesPlayed(): number {
    return this.playedFrame;
  }

  /** @internal Subscribe to our inbox before asking to play. */
  subscribe(deliver: string): void {
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
  started(reply: PlayReply, decode = true): void {
    const { format } = reply;
    this.reply = reply;
    this.id = reply.streamId;
    this.song = reply.song;
    this.format = format;
    if (reply.codec && decode) this.decoder = new OpusStreamDecoder(format.channels);
    this.epoch = reply.epoch;
    this.minEpoch = reply.epoch;
    this.playedFrame = reply.frame;
    this.expectedByte = reply.frame * frameBytes(format);
    this.startByte = this.expectedByte;
    this.watchdog = setInterval(() => this.checkSilence(), 1000);
  }

  /** @internal The play request failed. */
  abandon(): void {
    this.sub?.unsubscribe();
  }

  listen(listener: StreamListener): void {
    this.listener = listener;
    for (const msg of this.waiting.splice(0)) this.onMessage(msg);
    if (this.finished) this.tellEnd();
  }

  /** Report that playback has reached `frame` (the node stays a window ahead of it). */
  reportFrame(frame: number): void {
    // Finished: the end of the song, the last report, went out with it.
    if (this.finished) return;
    if (frame <= this.playedFrame && this.reportedFrame >= 0) return;
    this.playedFrame = Math.max(this.playedFrame, frame);
    // Call as often as you like: a report goes out per chunk played (each is a
    // request the node answers: at 1,000 listeners, half-chunk reports were
    // 4,000 a second).
    const step = Math.max(1, this.reply.chunkFrames);
    if (this.reportedFrame < 0 || this.playedFrame - this.reportedFrame >= step) {
      void this.report();
    }
  }

  position(byte: number): void {
    this.reportFrame(Math.floor(byte / frameBytes(this.reply.format)));
  }

  async pause(): Promise<void> {
    await this.control({ op: "pause" });
  }

  async resume(): Promise<void> {
    await this.control({ op: "resume" });
  }

  async seek(seconds: number): Promise<void> {
    this.seeking++;
    try {
      const reply = await this.control({ op: "seek", at: seconds });
      this.enterEpoch(reply.epoch, reply.frame * frameBytes(this.reply.format));
      // The node set the listener's position to the seek point itself.
      this.playedFrame = reply.frame;
      this.reportedFrame = reply.frame;
    } finally {
      this.seeking--;
    }
  }

  async stop(): Promise<void> {
    if (this.finished) return;
    this.finish({ reason: "stopped" });
    await this.control({ op: "stop" }).catch(() => undefined);
  }

  /**
   * Hand the stream to a new session of the same user (the old one's auth
   * node is gone): the node checks both, and the stream plays on untouched.
   */
  async rebind(session: Session): Promise<void> {
    const to = wireSession(session);
    await this.control({ op: "rebind", to });
    this.session = to;
  }

  private control(
    op:
      | { op: "pause" | "resume" | "stop" }
      | { op: "seek"; at: number }
      | { op: "rebind"; to: Session },
  ): Promise<ControlReply> {
    const run = (): Promise<ControlReply> =>
      this.ask({ ...op, session: this.session, streamId: this.id }, this.controlTimeoutMs);
    const next = this.controlChain.then(run, run);
    this.controlChain = next.catch(() => undefined);
    return next;
  }

  /**
   * One control request. A node that ended the stream itself answers with
   * why, as its end marker does: whichever comes first ends it here.
   */
  private async ask(request: ControlRequest, timeoutMs: number): Promise<ControlReply> {
    const reply = await call(this.nc, at(fileControl, this.node), request, timeoutMs);
    if (reply.state === "ended" && reply.end && endedByNode(reply.end)) {
      this.end({ reason: reply.end, message: reply.message });
    }
    return reply;
  }

  /** Send the latest position; one report in flight at a time. */
  private async report(): Promise<void> {
    if (this.reporting) {
      this.reportAgain = true;
      return;
    }
    if (!this.id || this.finished?.reason === "stopped") return;
    this.reporting = true;
    try {
      do {
        this.reportAgain = false;
        const frame = this.playedFrame;
        await this.ask(
          { op: "position", session: this.session, streamId: this.id, frame, epoch: this.epoch },
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
   * A report failed. NOT_FOUND: the node does not know our stream (a stream
   * it ended itself would have said why, see `ask`). Anything
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
    if (!this.listener) {
      this.waiting.push(msg);
      return;
    }
    this.wireBytes += msg.data.length;
    const { header, pcm } = decodeChunk(msg.data);
    this.accept(header, pcm);
  }

  /** Keep the song's bytes in order: drop stale and repeated chunks, sync on gaps. */
  private accept(header: ChunkHeader, pcm: Uint8Array): void {
    if (header.stream !== this.id || this.finished) return;
    if (header.epoch < Math.max(this.epoch, this.minEpoch)) return;
    if (header.epoch > this.epoch) this.enterEpoch(header.epoch, header.byte);
    if (header.end) {
      if (header.end === "eos") {
        if (header.byte === this.expectedByte) this.endOfSong();
        else if (header.byte > this.expectedByte) this.askSync();
        return;
      }
      this.end({ reason: header.end, message: header.message });
      return;
    }
    if (header.byte > this.expectedByte) {
      this.askSync();
      return;
    }
    // A lossy chunk's length is that of the PCM it decodes to.
    const length = header.opus ? header.frames * frameBytes(this.format) : pcm.length;
    if (header.byte + length <= this.expectedByte) return;
    const data =
      header.opus && this.decoder ? this.decoder.decode(pcm, header.opus, header.frames) : pcm;
    this.expectedByte = header.byte + length;
    this.listener?.chunk(header.byte, data);
  }

  /** A new epoch: a seek's (the listener starts over there) or a resend's (the bytes go on). */
  private enterEpoch(epoch: number, byte: number): void {
    if (epoch <= this.epoch) return;
    const jump = this.seeking > 0 || byte !== this.expectedByte;
    this.epoch = epoch;
    this.minEpoch = Math.max(this.minEpoch, epoch);
    this.expectedByte = byte;
    this.syncing = false;
    this.reportedFrame = -1;
    if (jump) this.listener?.moved(byte);
  }

  /** We missed something: ask the node to resend from where we are (a new epoch). */
  private askSync(): void {
    if (this.syncing) return;
    this.syncing = true;
    this.minEpoch = this.epoch + 1;
    const blockAlign = frameBytes(this.reply.format);
    const frame = this.expectedByte / blockAlign;
    void this.ask({ op: "sync", session: this.session, streamId: this.id, frame }, controlTimeoutMs)
      .then((reply) => this.enterEpoch(reply.epoch, frame * blockAlign))
      .catch((err: unknown) => this.lostNode(err))
      .finally(() => (this.syncing = false));
  }

  /** Every byte is here: the node may end the stream once it hears the whole song was played. */
  private endOfSong(): void {
    this.playedFrame = this.reply.codec
      ? this.reply.codec.frames
      : this.reply.song.bytes / frameBytes(this.reply.format);
    this.finish({ reason: "eos" });
    void this.report();
    this.tellEnd();
  }

  /** The stream ended on the node's side. */
  private end(end: StreamEnd): void {
    this.finish(end);
    this.tellEnd();
  }

  private tellEnd(): void {
    const end = this.finished;
    if (!end || end.reason === "stopped" || this.endTold || !this.listener) return;
    this.endTold = true;
    this.listener.end(end.reason, end.message);
  }

  private finish(end: StreamEnd): void {
    if (this.finished) return;
    this.finished = end;
    this.decoder?.close();
    this.decoder = undefined;
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    // Let the last position report go out before we stop listening.
    setTimeout(() => this.sub?.unsubscribe(), 1000).unref();
    this.resolveEnded(end);
  }
}

/** Only the session's wire fields (a UserSession has more). */
/** A session as the SDK's streams take it: what proves it, and an inbox its connection may read. */
export interface ClientSession extends Session {
  newInbox(): string;
}

export function wireSession(session: Session): Session {
  return { authNode: session.authNode, sessionId: session.sessionId, token: session.token };
}
