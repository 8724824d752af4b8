/**
 * The jitter buffer between the network and the output. Chunks arrive with
 * their byte offset in the song; reads take bytes in song order. Playback
 * starts once `startMs` of audio is buffered (or the song's end arrived);
 * after running dry it waits for `rebufferMs` before playing on, so one
 * hiccup costs one pause instead of a stutter. Duplicates (a redelivery after
 * a reconnect) are trimmed; a hole in the offsets is skipped and counted.
 */
import { fromNext } from "./trim.js";

export interface JitterOptions {
  bytesPerSecond: number;
  frameBytes: number;
  /** Audio buffered before the first sample plays. */
  startMs: number;
  /** Audio buffered before playing again after an underrun. */
  rebufferMs: number;
}

interface Piece {
  offset: number;
  data: Uint8Array;
  /** Bytes of `data` already read. */
  used: number;
}

export type JitterState = "filling" | "playing" | "starved" | "ended";

export class JitterBuffer {
  private pieces: Piece[] = [];
  private buffered = 0;
  /** The offset right after the last byte received. */
  private received: number;
  /** The offset of the next byte to read. */
  private reading: number;
  private endSeen = false;
  private mode: "filling" | "playing" | "starved" = "filling";
  underruns = 0;
  gaps = 0;
  duplicateBytes = 0;

  constructor(
    startOffset: number,
    private readonly options: JitterOptions,
  ) {
    this.received = startOffset;
    this.reading = startOffset;
  }

  /** Add a chunk that starts at byte `offset` of the song. */
  push(offset: number, data: Uint8Array): void {
    if (this.endSeen) return;
    const fresh = fromNext(this.received, offset, data);
    this.duplicateBytes += data.length - (fresh?.pcm.length ?? 0);
    if (!fresh || fresh.pcm.length === 0) return;
    if (fresh.byte > this.received) this.gaps++;
    this.pieces.push({ offset: fresh.byte, data: fresh.pcm, used: 0 });
    this.buffered += fresh.pcm.length;
    this.received = fresh.byte + fresh.pcm.length;
  }

  /** The song's last chunk has arrived. */
  end(): void {
    this.endSeen = true;
  }

  /** Drop everything and expect bytes from `offset` on (a seek). */
  reset(offset: number): void {
    this.pieces = [];
    this.buffered = 0;
    this.received = offset;
    this.reading = offset;
    this.endSeen = false;
    this.mode = "filling";
  }

  get state(): JitterState {
    if (this.endSeen && this.buffered === 0) return "ended";
    return this.mode;
  }

  /** Offset of the next byte a read returns: the playback position. */
  get offset(): number {
    return this.reading;
  }

  /** The end-of-song marker has arrived (the tail may still be playing). */
  get endReceived(): boolean {
    return this.endSeen;
  }

  /** Offset right after the last byte received. */
  get receivedOffset(): number {
    return this.received;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  get bufferedMs(): number {
    return (this.buffered / this.options.bytesPerSecond) * 1000;
  }

  /** True when a read would return audio now. */
  ready(): boolean {
    if (this.buffered === 0) return false;
    if (this.mode === "playing" || this.endSeen) return true;
    const needMs = this.mode === "filling" ? this.options.startMs : this.options.rebufferMs;
    return this.bufferedMs >= needMs;
  }

  /**
   * Up to `want` bytes (whole frames) in song order. Returns fewer when the
   * buffer runs dry; running dry before the end counts one underrun and
   * makes the buffer refill before it plays again.
   */
  read(want: number): Uint8Array {
    if (!this.ready()) {
      // A read that drained the buffer exactly could not tell; this one can.
      if (this.mode === "playing" && !this.endSeen && want > 0) this.starve();
      return new Uint8Array(0);
    }
    this.mode = "playing";
    const head = this.pieces[0] as Piece;
    this.reading = head.offset + head.used; // jumps a hole, if the last read stopped at one
    let take = Math.min(want, this.contiguous());
    const tail = this.endSeen && take === this.buffered;
    if (!tail) take -= take % this.options.frameBytes;
    const out = new Uint8Array(take);
    let filled = 0;
    while (filled < take) {
      const piece = this.pieces[0] as Piece;
      const n = Math.min(take - filled, piece.data.length - piece.used);
      out.set(piece.data.subarray(piece.used, piece.used + n), filled);
      piece.used += n;
      filled += n;
      if (piece.used === piece.data.length) this.pieces.shift();
    }
    this.reading += take;
    this.buffered -= take;
    if (take < want && !this.endSeen && this.buffered < this.options.frameBytes) this.starve();
    return out;
  }

  private starve(): void {
    this.underruns++;
    this.mode = "starved";
  }

  /** Bytes readable from the head up to the first hole. */
  private contiguous(): number {
    let total = 0;
    let end = -1;
    for (const piece of this.pieces) {
      if (end !== -1 && piece.offset !== end) break;
      total += piece.data.length - piece.used;
      end = piece.offset + piece.data.length;
    }
    return total;
  }
}
