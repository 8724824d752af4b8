/**
 * The song being played: its jitter buffer, the output clock and sink it
 * plays through, the stream that pushes its bytes in, and the listener's
 * state (paused, held by a P2P host, stopped, failed). A recovery gives it
 * a new stream and keeps the buffer, so playback carries on where it was.
 */
import { bytesPerSecond, describeFormat, frameBytes, secondsToBytes } from "../audio/format.js";
import type { PcmFormat } from "../audio/format.js";
import { describeQuality, type Quality } from "../../wire/quality.js";
import { JitterBuffer } from "../audio/jitter.js";
import type { AudioOutput } from "../audio/output.js";
import {
  OutputClock,
  type OutputClockOptions,
  type OutputClockState,
} from "../audio/output-clock.js";
import { ChorusError } from "../../wire/errors.js";
import type { EndReason, OpenedStream, SongInfo, StreamListener } from "../source.js";
import type { PlayerEvents } from "./events.js";
import type { JitterSettings, NowPlaying, NowSong, NowState } from "./types.js";

/** Start with the first chunk; after an underrun, wait for 300 ms of audio. */
const defaultJitter = { startMs: 0, rebufferMs: 300 };

export interface SongHooks {
  events: PlayerEvents;
  /** The stream broke (not the song): get it back from where the buffer is. */
  lost(why: string): void;
  /** The P2P host we follow went on to another song, or on after this one ended. */
  nextSong(stream: OpenedStream): void;
}

export class CurrentSong {
  readonly song: SongInfo;
  readonly format: PcmFormat;
  readonly buffer: JitterBuffer;
  /** The stream feeding the buffer; none between a lost stream and its replacement. */
  stream?: OpenedStream;
  /** What the screen shows as "from": the file node or host serving the stream now. */
  label: string;
  lastChunkAt = performance.now();
  paused = false;
  /** Paused by the P2P host it follows (it resumes when the host does). */
  held = false;
  stopped = false;
  failed?: string;
  private clock?: OutputClock;
  /** Where the first stream started: `forSeconds` count from here. */
  private readonly startByte: number;
  /** Underruns of this song before its last restart (a seek resets the buffer's count). */
  private underrunsBefore = 0;

  constructor(
    stream: OpenedStream,
    label: string,
    jitter: JitterSettings,
    private readonly hooks: SongHooks,
  ) {
    this.song = stream.song;
    this.format = stream.format;
    this.label = label;
    this.startByte = stream.startByte;
    this.buffer = new JitterBuffer(stream.startByte, {
      bytesPerSecond: bytesPerSecond(this.format),
      frameBytes: frameBytes(this.format),
      ...defaultJitter,
      ...jitter,
    });
    // Joined a host that is paused: wait for it.
    if (stream.held) this.held = this.paused = true;
    this.attach(stream, label);
  }

  /** The output clock's state; buffering until the sink is open. */
  get clockState(): OutputClockState {
    return this.clock?.state ?? "buffering";
  }

  get ended(): boolean {
    return this.clockState === "ended";
  }

  /**
   * Open a sink and start the clock: audio reaches the output from now on
   * (`forSeconds` of it, when given).
   */
  async start(
    output: AudioOutput,
    options?: OutputClockOptions,
    forSeconds?: number,
  ): Promise<void> {
    const sink = await output.open(this.format);
    if (this.stopped || this.failed) {
      await sink.close().catch(() => undefined);
      return;
    }
    const { events } = this.hooks;
    const buffer = this.buffer;
    const clock = new OutputClock(
      buffer,
      sink,
      this.format,
      {
        firstSample: () => events.emit({ kind: "first-sample", at: performance.now() }),
        played: (pcm, byte) => events.emit({ kind: "played", pcm, byte }),
        ended: () => {
          // Ended before the song did (--for): the source need not send more.
          if (!buffer.endReceived) void this.stream?.stop().catch(() => undefined);
          events.emit({ kind: "ended" });
          events.changed();
        },
        failed: (err) => this.fail(`audio output failed: ${err.message}`),
      },
      options,
    );
    if (forSeconds !== undefined) {
      clock.endByte = this.startByte + secondsToBytes(this.format, forSeconds);
    }
    this.clock = clock;
    if (this.paused) clock.pause();
    clock.start();
    events.changed();
  }

  /** Take bytes from `stream` from now on (the first stream, or one that replaces a lost one). */
  attach(stream: OpenedStream, label: string): void {
    this.stream = stream;
    this.level = stream.quality;
    this.label = label;
    this.lastChunkAt = performance.now();
    stream.listen(this.listenerFor(stream));
  }

  /** Let go of the stream (lost, or handed to the next song); it pushes here no more. */
  detach(): OpenedStream | undefined {
    const stream = this.stream;
    this.stream = undefined;
    return stream;
  }

  private listenerFor(stream: OpenedStream): StreamListener {
    const ours = (): boolean => this.stream === stream && !this.stopped;
    return {
      chunk: (byte, pcm) => {
        if (this.stream !== stream) return;
        this.buffer.push(byte, pcm);
        this.lastChunkAt = performance.now();
        this.clock?.kick();
      },
      end: (reason, message) => {
        if (ours()) this.onEnd(reason, message);
      },
      moved: (byte, song) => {
        if (!ours()) return;
        if (song || this.ended) this.hooks.nextSong(stream);
        else this.restartAt(byte);
      },
      paused: (paused) => {
        if (ours()) this.hostPaused(paused);
      },
    };
  }

  private onEnd(reason: EndReason, message?: string): void {
    if (reason === "eos") {
      this.buffer.end();
      this.clock?.kick();
    } else if (reason === "removed") {
      this.fail(`the song cannot be played any more: ${message ?? reason}`);
    } else if (reason !== "stopped") {
      this.hooks.lost(message ?? reason);
    }
  }

  /** The stream goes on from `byte` (a seek, or the host moved): a fresh buffer there. */
  private restartAt(byte: number): void {
    this.underrunsBefore += this.buffer.underruns;
    this.buffer.underruns = 0;
    this.buffer.reset(byte);
    this.lastChunkAt = performance.now();
    this.clock?.rebase();
    this.hooks.events.changed();
  }

  /** The host we follow paused or resumed. */
  private hostPaused(paused: boolean): void {
    this.held = paused;
    if (paused && !this.paused) {
      this.paused = true;
      this.clock?.pause();
    } else if (!paused && this.paused) {
      this.paused = false;
      this.lastChunkAt = performance.now();
      this.clock?.resume();
    }
    this.hooks.events.changed();
  }

  async pause(): Promise<void> {
    if (this.paused) return;
    this.paused = true;
    this.clock?.pause();
    this.hooks.events.changed();
    await this.stream?.pause();
  }

  async resume(): Promise<void> {
    if (!this.paused) return;
    if (this.held)
      throw new ChorusError("BAD_REQUEST", "the host has paused: you go on when it does");
    await this.stream?.resume();
    if (this.held) return; // rejoined a host that is paused now
    this.paused = false;
    this.lastChunkAt = performance.now();
    this.clock?.resume();
    this.hooks.events.changed();
  }

  /** Stop for good: the sink is closed; the stream is told, waited for with `waitForSource`. */
  async stop(waitForSource = true): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const stream = this.stream?.stop().catch(() => undefined);
    await Promise.all([
      waitForSource ? stream : undefined,
      this.clock?.stop().catch(() => undefined),
    ]);
  }

  /** The song cannot go on: say why once. */
  fail(message: string): void {
    if (this.failed) return;
    this.failed = message;
    this.hooks.events.say(message, true);
    void this.stream?.stop().catch(() => undefined);
    void this.clock?.stop().catch(() => undefined);
    this.hooks.events.changed();
  }

  /**
   * Every few hundred ms while playing: tell the source where playback is.
   * True when no audio came for `stallMs` before the end and less than
   * `stallMs` of it is left in the buffer: the source is gone. (A source
   * that stays a window ahead sends nothing while the buffer holds more than
   * its window, as after a recovery that kept the buffer: that is no stall.)
   */
  keepUp(stallMs: number): boolean {
    if (!this.stream || this.stopped || this.paused || this.failed || this.ended) return false;
    this.stream.position(this.buffer.offset);
    return (
      performance.now() - this.lastChunkAt > stallMs &&
      this.buffer.bufferedMs < stallMs &&
      !this.buffer.endReceived
    );
  }

  /** What a P2P host relays about this song. */
  nowSong(): NowSong {
    const st = this.clockState;
    const state =
      this.stopped || this.failed || st === "stopped" || st === "failed"
        ? "stopped"
        : st === "ended"
          ? "ended"
          : this.paused
            ? "paused"
            : "playing";
    return {
      song: this.song,
      format: this.format,
      state,
      byte: this.buffer.offset,
      depth: this.stream?.depth ?? 0,
      ...(this.level && { quality: this.level }),
    };
  }

  state(recovering: boolean): NowState {
    if (this.failed) return "failed";
    if (this.stopped) return "stopped";
    if (recovering && !this.ended) return "reconnecting";
    return this.clockState;
  }

  /** Seconds into the song of the next byte to reach the output. */
  get position(): number {
    return this.buffer.offset / bytesPerSecond(this.format);
  }

  /**
   * The level the audio was decoded from (undefined: lossless). Kept when a
   * stream is lost, so its replacement is asked for the same level and format.
   */
  level?: Quality;

  /** The level as the screen shows it, with the bitrate a file node's stream says. */
  private get quality(): string | undefined {
    const codec = this.stream?.codec;
    if (codec) return describeQuality(codec.quality, codec.bitrate);
    return describeQuality(this.level ?? "lossless");
  }

  nowPlaying(recovering: boolean): NowPlaying {
    const { song } = this;
    return {
      title: song.title,
      ...(song.artist ? { artist: song.artist } : {}),
      ...(song.album ? { album: song.album } : {}),
      state: this.state(recovering),
      position: this.position,
      duration: song.duration,
      format: describeFormat(this.format),
      ...(this.quality && { quality: this.quality }),
      source: this.label,
    };
  }

  get underruns(): number {
    return this.underrunsBefore + this.buffer.underruns;
  }
}
