/**
 * Where a song's audio comes from: a file node (client/file-source.ts) or a
 * P2P host that relays what it plays (client/p2p/join.ts). The player only
 * knows this interface: it opens a stream at a position, hands it a listener
 * that gets the song's bytes pushed in order with their byte offset, steers
 * the stream, and reports where playback is.
 */
import type { EndReason } from "../wire/file.js";
import type { AudioFormat, Song } from "../wire/media.js";
import type { Session } from "../wire/session.js";
import type { Codec } from "../wire/file.js";
import type { Quality } from "../wire/quality.js";
import type { Deadline } from "./retry.js";

/** Why a stream ended: the file protocol's reasons (wire/file.ts), which a P2P stream reuses. */
export type { EndReason };

/**
 * A song as the player knows it: the wire's one song (wire/media.ts), whose
 * format and size a P2P host's frames carry apart from it.
 */
export type SongInfo = Omit<Song, "format" | "bytes"> & Partial<Pick<Song, "format" | "bytes">>;

/** What a stream pushes to whoever plays it. */
export interface StreamListener {
  /**
   * The song's next bytes, starting at byte `byte`, in song order. A piece
   * may begin before the end of the last one (a redelivery, a relay
   * backlog): the receiver keeps what it lacks (client/audio/trim.ts). A
   * hole is left only where the source skipped ahead.
   */
  chunk(byte: number, pcm: Uint8Array): void;
  /** The source ended the stream: `eos` after the last byte, anything else is a failure. */
  end(reason: EndReason, message?: string): void;
  /**
   * The bytes go on from `byte` instead (a seek was answered, a P2P host
   * seeked or caught up), of another song when `song` is given.
   */
  moved(byte: number, song?: SongInfo): void;
  /** The source paused or resumed on its own (a P2P host did). */
  paused(paused: boolean): void;
}

export interface OpenedStream {
  readonly id: string;
  readonly song: SongInfo;
  readonly format: AudioFormat;
  /** Byte offset of the first byte the listener gets. */
  readonly startByte: number;
  /** Hops from a file node: 0 from a file node, n+1 from a P2P host that is n hops away. */
  readonly depth: number;
  /** Paused by the source itself (a P2P host): playback waits for it. */
  readonly held: boolean;
  /** A lossy stream's coding (a file node's at a quality level); undefined: PCM as in the file. */
  readonly codec?: Codec;
  /** The level its PCM was decoded from, when lossy (a P2P host's says its host's). */
  readonly quality?: Quality;
  /**
   * Push to `listener` from now on. What arrived since the stream opened is
   * held until the first listener comes, then handed to it first.
   */
  listen(listener: StreamListener): void;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Jump to `seconds`; the listener's `moved` says where, before this resolves. */
  seek(seconds: number): Promise<void>;
  /** Where playback is (byte offset), so the source can stay a bounded window ahead. */
  position(byte: number): void;
  /** Stop for good: nothing more is pushed. */
  stop(): Promise<void>;
  /**
   * Move the stream to a new session of the same user, without a pause
   * (a file node's stream, after its session's auth node went away).
   */
  rebind?(session: Session): Promise<void>;
}

export interface Source {
  /** The node (or host) id: shown on screen. */
  readonly id: string;
  /** "file node file-ab12". */
  readonly label: string;
  songs(deadline: Deadline): Promise<SongInfo[]>;
  /**
   * Open `song` at `fromSeconds`; its requests end by `deadline`. `quality`
   * overrides the source's level (a stream replacing one at that level).
   */
  open(
    song: string,
    fromSeconds: number,
    deadline: Deadline,
    quality?: Quality,
  ): Promise<OpenedStream>;
  /** Let go of the source (its claim, subscriptions). */
  close(): Promise<void>;
}
