/**
 * One listener's stream on a file node: reads the song's PCM chunk by chunk
 * and publishes it into JetStream, staying at most `windowChunks` chunks
 * ahead of the position the listener reports. Pause stops publishing;
 * seek and sync start a new epoch (the client drops stale chunks of older
 * epochs); the end of the song, a stop, a dead session or a removed file
 * end the stream with an end marker saying why.
 */
import { timingSafeEqual } from "node:crypto";
import type { Logger } from "../runtime/log.js";
import type { SongFile } from "./catalogue.js";
import { DecodeError } from "./decode.js";
import { openSource } from "./pcm-source.js";
import { PcmChunkSource, type ChunkSource } from "./chunk-source.js";
import { openOpusSource } from "./open-opus.js";
import type { TranscodeCache } from "./transcode-cache.js";
import type { AudioJetStream } from "./jetstream.js";
import type { Publisher, PublishScheduler } from "./scheduler.js";
import {
  chunkMs,
  encodeChunk,
  endedByNode,
  windowChunks,
  type ChunkHeader,
  type ControlReply,
  type EndReason,
} from "../../wire/file.js";
import { frameBytes, type AudioFormat } from "../../wire/media.js";
import type { Quality } from "../../wire/quality.js";
import type { Session } from "../../wire/session.js";

export interface StreamHooks {
  /** Called once when the stream has ended (for any reason). */
  onEnd(stream: ListenerStream, reason: EndReason): void;
  /** Publish acknowledgement latency, for the node's overload watch. */
  onAck(ms: number): void;
}

/** What one listener asked for: a song from a frame, pushed to its inbox. */
export interface StreamRequest {
  id: string;
  session: Session;
  user: string;
  song: SongFile;
  deliver: string;
  /** In the stream's own frames (48 kHz for a lossy level). */
  startFrame: number;
  quality: Quality;
}

/** What the file node gives each of its streams. */
export interface StreamNode {
  audio: AudioJetStream;
  scheduler: PublishScheduler;
  hooks: StreamHooks;
  log: Logger;
  /** ffmpeg's path, for songs that are not WAV. */
  ffmpeg?: string;
  /** Where lossy levels come from (needs ffmpeg). */
  transcode?: TranscodeCache;
}

const publishTimeoutMs = 2000;
/** Chunks of one stream awaiting their ack at once. */
const maxUnacked = 2;
const retryMs = 250;

export class ListenerStream implements Publisher {
  readonly subject: string;
  readonly format: AudioFormat;
  /** Bytes of one frame of the PCM the listener plays. */
  private readonly blockAlign: number;
  readonly chunkFrames: number;
  readonly startedAt = Date.now();
  epoch = 0;
  /** Next frame to publish, and the frame the listener has played up to. */
  head: number;
  played: number;
  paused = false;
  /** Why it ended, as its end marker says (once it has). */
  endedAs?: { reason: EndReason; message?: string };
  /** The end-of-song marker of the current epoch went out. */
  eosSent = false;
  private seq = 0;
  private retrying = false;
  /** Chunks sent whose JetStream ack has not come back yet. */
  private unacked = 0;
  /** Where the current epoch began: its first chunk is short. */
  private epochStart: number;
  readonly firstChunkFrames: number;
  private retryTimer?: NodeJS.Timeout;

  readonly id: string;
  /** The session that owns the stream: the one that started it, or the one it was rebound to. */
  session: Session;
  /**
   * Since when the session's auth node has been gone (it did not answer):
   * the listener may log in again and rebind the stream until the grace ends.
   */
  orphanedSince?: number;
  readonly user: string;
  readonly song: SongFile;
  /** The listener's inbox its consumer pushes to. */
  readonly deliverSubject: string;
  private readonly audio: AudioJetStream;
  private readonly scheduler: PublishScheduler;
  private readonly hooks: StreamHooks;
  private readonly log: Logger;

  private constructor(
    what: StreamRequest,
    node: StreamNode,
    private readonly source: ChunkSource,
  ) {
    const { id, song, startFrame } = what;
    this.id = id;
    this.session = what.session;
    this.user = what.user;
    this.song = song;
    this.deliverSubject = what.deliver;
    this.audio = node.audio;
    this.scheduler = node.scheduler;
    this.hooks = node.hooks;
    this.log = node.log;
    this.subject = node.audio.subject(id);
    this.format = source.format;
    this.blockAlign = frameBytes(source.format);
    const { sampleRate } = this.format;
    this.chunkFrames = Math.max(1, Math.round((sampleRate * chunkMs) / 1000));
    this.head = startFrame;
    this.played = startFrame;
    this.epochStart = startFrame;
    this.firstChunkFrames = Math.max(1, Math.round(this.chunkFrames / 5));
  }

  static async open(what: StreamRequest, node: StreamNode): Promise<ListenerStream> {
    const { song, quality } = what;
    const source =
      quality === "lossless"
        ? new PcmChunkSource(
            await openSource(song, node.ffmpeg),
            song.song.format,
            song.info.frames,
          )
        : await openOpusSource(song, quality, node.transcode);
    return new ListenerStream(what, node, source);
  }

  /** Frames in the whole song, as the listener plays it. */
  get frames(): number {
    return this.source.frames;
  }

  /** How a lossy stream is coded (undefined: lossless PCM). */
  get codec(): ChunkSource["codec"] {
    return this.source.codec;
  }

  get ended(): boolean {
    return this.endedAs !== undefined;
  }

  /** Is this request from the session that started the stream? */
  ownedBy(session: Session): boolean {
    return (
      session.authNode === this.session.authNode &&
      session.sessionId === this.session.sessionId &&
      sameSecret(session.token, this.session.token)
    );
  }

  /** The owner logged in again: the stream belongs to its new session from now on. */
  rebind(session: Session): void {
    this.session = session;
    this.orphanedSince = undefined;
  }

  state(): ControlReply {
    return {
      streamId: this.id,
      state: this.ended ? "ended" : this.paused ? "paused" : "playing",
      frame: this.played,
      epoch: this.epoch,
      ...(this.endedAs && { end: this.endedAs.reason, message: this.endedAs.message }),
    };
  }

  pause(): void {
    this.paused = true;
    // A paused stream holds no decoder: it starts again, exactly there, on resume.
    void this.source.idle().catch(() => undefined);
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** The listener has played up to `frame` (reports of older epochs are ignored). */
  position(frame: number, epoch?: number): void {
    if (epoch !== undefined && epoch !== this.epoch) return;
    // A listener cannot have played what it was never sent.
    const clamped = Math.min(frame, this.head);
    if (clamped > this.played) {
      this.played = clamped;
      this.pump();
    }
    if (this.eosSent && this.played >= this.frames) void this.end("eos");
  }

  /** Start a new epoch at `frame`: a seek, or a resend after the client saw a gap. */
  async restartAt(frame: number): Promise<void> {
    this.epoch++;
    this.eosSent = false;
    this.head = frame;
    this.played = frame;
    this.epochStart = frame;
    // Chunks of the old epoch not yet pushed are useless now.
    await this.audio.purge(this.id).catch(() => undefined);
    this.pump();
  }

  /** After a broker restart: publish again from the listener's last reported position. */
  async recover(): Promise<void> {
    if (this.ended) return;
    await this.audio.openConsumer(this.id, this.deliverSubject);
    this.head = this.played;
    this.epochStart = this.played;
    this.eosSent = false;
    this.pump();
  }

  /** Ask the node's scheduler for a turn to publish. */
  pump(): void {
    if (!this.ended) this.scheduler.wake(this);
  }

  /** Publisher: may this stream publish now? */
  wants(): boolean {
    if (this.ended || this.paused || this.retrying) return false;
    if (this.head < this.frames) return this.unacked < maxUnacked && this.inWindow();
    // The end marker goes out once every chunk before it is stored.
    return !this.eosSent && this.unacked === 0;
  }

  /** Publisher: how much audio the listener has in hand or on the way, in frames. */
  lead(): number {
    return this.head - this.played;
  }

  /** Publisher: publish the next chunk, or the end-of-song marker. */
  async step(): Promise<void> {
    try {
      if (this.head < this.frames) {
        await this.publishNext();
      } else if (!this.eosSent) {
        const epoch = this.epoch;
        // The end-of-song marker; the stream itself ends when the listener has played it all.
        if (await this.publishMarker("eos")) this.eosSent = this.epoch === epoch;
        else this.retryLater();
        // The listener may have reported the last frame played before the marker went out.
        if (this.eosSent && this.played >= this.frames) await this.end("eos");
      }
    } catch (err) {
      // A stop or seek may close the file under a publish in progress.
      if (this.ended) return;
      this.log.warn("stream failed", { stream: this.id, error: String(err) });
      const what = err instanceof DecodeError ? "decode" : "read";
      await this.end("error", `the node could not ${what} the song`);
    }
  }

  private inWindow(): boolean {
    return this.head < this.played + windowChunks * this.chunkFrames;
  }

  /**
   * Read one chunk and send it. The ack is awaited in the background (at most
   * `maxUnacked` per stream), so a stream's next chunk need not wait for the
   * previous one's round trip; the connection keeps them in order.
   */
  private async publishNext(): Promise<void> {
    if (await this.source.removed()) {
      await this.end("removed", "the song was removed from the music folder");
      return;
    }
    const epoch = this.epoch;
    const frame = this.head;
    // The first chunk of an epoch is short, so the listener has audio sooner.
    const fresh = frame === this.epochStart;
    const size = fresh ? this.firstChunkFrames : this.chunkFrames;
    const { blockAlign } = this;
    const { sampleRate } = this.format;
    const chunk = await this.source.chunk(frame, Math.min(size, this.frames - frame), fresh);
    if (!chunk) {
      await this.end("removed", "the song file changed while streaming");
      return;
    }
    // A seek, stop or recovery while we read: this chunk is no longer wanted.
    if (this.ended || this.epoch !== epoch || this.head !== frame) return;
    const header: ChunkHeader = {
      v: 1,
      stream: this.id,
      seq: this.seq++,
      epoch,
      frame,
      byte: frame * blockAlign,
      time: frame / sampleRate,
      frames: chunk.frames,
      format: this.format,
      ...(chunk.opus && { opus: chunk.opus }),
    };
    this.head = frame + chunk.frames;
    this.unacked++;
    const sent = process.hrtime.bigint();
    this.audio.js
      .publish(this.subject, encodeChunk(header, chunk.payload), { timeout: publishTimeoutMs })
      .then(
        () => this.hooks.onAck(Number(process.hrtime.bigint() - sent) / 1e6),
        (err: unknown) => {
          if (this.ended) return;
          this.log.warn("chunk publish failed; retrying", { stream: this.id, error: String(err) });
          // Send again from the lost chunk (the client drops what it already has).
          if (this.epoch === epoch && this.head > frame) this.head = frame;
          this.retryLater();
        },
      )
      .finally(() => {
        this.unacked--;
        this.pump();
      });
  }

  private retryLater(): void {
    clearTimeout(this.retryTimer);
    this.retrying = true;
    this.retryTimer = setTimeout(() => {
      this.audio
        .ensureStream()
        .then(() => this.audio.openConsumer(this.id, this.deliverSubject))
        .catch(() => undefined)
        .finally(() => {
          this.retrying = false;
          this.pump();
        });
    }, retryMs);
  }

  /** Publish a marker with no PCM (end of song, or why the stream ended). */
  private async publishMarker(end: EndReason, message?: string): Promise<boolean> {
    const header: ChunkHeader = {
      v: 1,
      stream: this.id,
      seq: this.seq,
      epoch: this.epoch,
      frame: this.head,
      byte: this.head * this.blockAlign,
      time: this.head / this.format.sampleRate,
      frames: 0,
      format: this.format,
      end,
      ...(message ? { message } : {}),
    };
    try {
      await this.audio.js.publish(this.subject, encodeChunk(header, new Uint8Array(0)), {
        timeout: publishTimeoutMs,
      });
      this.seq++;
      return true;
    } catch (err) {
      this.log.debug("marker not published", { stream: this.id, end, error: String(err) });
      return false;
    }
  }

  /**
   * End the stream: tell the listener why (unless it asked, or already has
   * the whole song), release the file, then the consumer.
   */
  async end(reason: EndReason, message?: string, closeConsumerAfterMs = 1000): Promise<void> {
    if (this.ended) return;
    this.endedAs = { reason, message };
    clearTimeout(this.retryTimer);
    this.scheduler.forget(this);
    this.hooks.onEnd(this, reason);
    if (endedByNode(reason)) await this.publishMarker(reason, message);
    await this.source.close().catch(() => undefined);
    const release = async (): Promise<void> => {
      await this.audio.closeConsumer(this.id);
      await this.audio.purge(this.id).catch(() => undefined);
    };
    if (endedByNode(reason)) {
      // Let the marker reach the listener before its consumer and chunks go.
      setTimeout(() => void release(), closeConsumerAfterMs).unref();
    } else {
      await release();
    }
    this.log.info("stream ended", { stream: this.id, reason, user: this.user });
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
