/**
 * The output clock: moves audio from the jitter buffer to the output at
 * real-time pace, whatever the output (a sound card paces itself, a WAV file
 * or silence would not), so position, pause and seek mean the same
 * everywhere. A small lead keeps a sound card fed across event-loop stalls.
 */
import { JitterBuffer } from "./jitter.js";
import { bytesPerSecond, bytesToSeconds, type PcmFormat, wholeFrames } from "./format.js";
import type { AudioSink } from "./output.js";

export interface OutputClockOptions {
  /** Audio written ahead of the clock. */
  leadMs: number;
  tickMs: number;
}

export const defaultClock: OutputClockOptions = { leadMs: 40, tickMs: 10 };

export interface OutputClockEvents {
  /** The first bytes of this song reached the output. */
  firstSample?(): void;
  /** Bytes that reached the output, and the song offset they start at (P2P relays them). */
  played?(pcm: Uint8Array, byte: number): void;
  /** The song's last byte reached the output. */
  ended?(): void;
  /** The output failed (a closed pipe, a full disk). */
  failed?(err: Error): void;
}

export type OutputClockState = "buffering" | "playing" | "paused" | "ended" | "stopped" | "failed";

export class OutputClock {
  private timer?: NodeJS.Timeout;
  private immediate?: NodeJS.Immediate;
  private writing = false;
  private paused = false;
  private stopped = false;
  private done = false;
  private failure?: Error;
  /** Clock origin (ms) and bytes written since; undefined while not running. */
  private clockStart?: number;
  private clockBytes = 0;
  private firstSeen = false;
  private readonly bps: number;
  /** Stop at this song byte offset (`chorus play --for`), as if the song ended there. */
  endByte?: number;

  constructor(
    readonly buffer: JitterBuffer,
    private readonly sink: AudioSink,
    readonly format: PcmFormat,
    private readonly events: OutputClockEvents = {},
    private readonly options: OutputClockOptions = defaultClock,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.bps = bytesPerSecond(format);
  }

  start(): void {
    this.schedule(0);
  }

  /** New data arrived: play it now rather than at the next tick. */
  kick(): void {
    if (!this.writing && !this.paused && !this.stopped && this.clockStart === undefined) {
      this.schedule(0);
    }
  }

  /** The buffer was reset (a seek): restart the clock when data comes. */
  rebase(): void {
    this.clockStart = undefined;
    this.kick();
  }

  pause(): void {
    this.paused = true;
    this.clockStart = undefined;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.schedule(0);
  }

  /** Stop for good; the sink is closed (a WAV file gets its sizes). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.cancel();
    await this.closeSink();
  }

  private sinkClosed = false;
  private async closeSink(): Promise<void> {
    if (this.sinkClosed) return;
    this.sinkClosed = true;
    await this.sink.close();
  }

  /** Song position in seconds: the next byte to be written. */
  get position(): number {
    return bytesToSeconds(this.format, this.buffer.offset);
  }

  get state(): OutputClockState {
    if (this.failure) return "failed";
    if (this.stopped) return "stopped";
    if (this.done) return "ended";
    if (this.paused) return "paused";
    return this.clockStart === undefined ? "buffering" : "playing";
  }

  private cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  private schedule(delay: number): void {
    this.cancel();
    // setTimeout(0) waits at least 1 ms; new data should reach the output at once.
    if (delay === 0) this.immediate = setImmediate(() => void this.tick());
    else this.timer = setTimeout(() => void this.tick(), delay);
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    this.immediate = undefined;
    if (this.writing || this.stopped || this.paused || this.done || this.failure) return;
    this.writing = true;
    try {
      await this.step();
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.events.failed?.(this.failure);
      return;
    } finally {
      this.writing = false;
    }
    if (!this.stopped && !this.paused && !this.done) this.schedule(this.options.tickMs);
  }

  private async step(): Promise<void> {
    const now = this.now();
    if (this.clockStart === undefined) {
      if (!this.buffer.ready()) {
        if (this.buffer.state === "ended") await this.finish();
        return;
      }
      this.clockStart = now;
      this.clockBytes = 0;
    }
    const due = ((now - this.clockStart + this.options.leadMs) / 1000) * this.bps;
    let want = wholeFrames(this.format, Math.floor(due - this.clockBytes));
    if (this.endByte !== undefined) {
      want = Math.min(want, this.endByte - this.buffer.offset);
      if (want <= 0) {
        await this.finish();
        return;
      }
    }
    if (want <= 0) return;
    const pcm = this.buffer.read(want);
    if (pcm.length > 0) {
      const at = this.buffer.offset - pcm.length;
      await this.sink.write(pcm);
      this.events.played?.(pcm, at);
      this.clockBytes += pcm.length;
      if (!this.firstSeen) {
        this.firstSeen = true;
        this.events.firstSample?.();
      }
    }
    if (
      this.buffer.state === "ended" ||
      (this.endByte !== undefined && this.buffer.offset >= this.endByte)
    ) {
      await this.finish();
    } else if (pcm.length < want && this.buffer.state === "starved") {
      // Ran dry: the clock waits for the buffer to refill.
      this.clockStart = undefined;
    }
  }

  private async finish(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.closeSink();
    this.events.ended?.();
  }
}
