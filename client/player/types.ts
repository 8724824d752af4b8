/**
 * The player library's types: how it is started, what it tells its
 * listeners (the screen, the commands, a P2P host), and how it reports
 * what is playing. The screen (cli/screen/) draws these.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { ChorusConfig } from "../../actors/runtime/config.js";
import type { PcmFormat } from "../audio/format.js";
import type { JitterOptions } from "../audio/jitter.js";
import type { AudioOutput } from "../audio/output.js";
import type { OutputClockOptions } from "../audio/output-clock.js";
import type { UserSession } from "../auth.js";
import type { DeviceCookieJar } from "../device-cookies.js";
import type { Deadline } from "../retry.js";
import type { SongInfo, Source } from "../source.js";
import type { Quality } from "../../wire/quality.js";

/** Who logs in. */
export interface Credentials {
  user: string;
  password: string;
}

export interface SourceContext {
  nc: NatsConnection;
  session: UserSession;
  config: ChorusConfig;
  /** The quality level streams are asked for (default lossless). */
  quality?: Quality;
}

/** Finds a source for the player (client/file-source.ts: the prime's pick of a file node). */
export type SourceFinder = (ctx: SourceContext, deadline: Deadline) => Promise<Source>;

/** Buffering before the first sample / after an underrun. */
export type JitterSettings = Partial<Pick<JitterOptions, "startMs" | "rebufferMs">>;

export interface PlayerOptions {
  config: ChorusConfig;
  credentials: Credentials;
  output: AudioOutput;
  findSource: SourceFinder;
  jitter?: JitterSettings;
  clock?: OutputClockOptions;
  /** No audio for this long while playing means the source is gone. */
  stallMs?: number;
  /** Give up a song whose stream cannot be got back for this long (default: never). */
  giveUpMs?: number;
  /** Name of the broker connection. */
  name?: string;
  /** Relay what is played so others can join (P2P, client/p2p/host.ts); default true. */
  host?: boolean;
  /** Where the device cookies of its logins are kept (default: in memory, for this player only). */
  devices?: DeviceCookieJar;
  /** The quality level of the songs it plays from file nodes (default lossless). */
  quality?: Quality;
}

/** What a P2P host relays (client/p2p/host.ts). */
export interface NowSong {
  song: SongInfo;
  format: PcmFormat;
  state: "playing" | "paused" | "ended" | "stopped";
  /** The next byte to play. */
  byte: number;
  /** 0 from a file node; n+1 when following a host of depth n. */
  depth: number;
  /** The level the PCM was decoded from (undefined: lossless). */
  quality?: Quality;
}

export type PlayerEvent =
  | { kind: "changed"; message?: undefined; error?: undefined }
  | { kind: "message"; message: string; error: boolean }
  | { kind: "first-sample"; message?: undefined; error?: undefined; at: number }
  | { kind: "ended"; message?: undefined; error?: undefined }
  | { kind: "played"; message?: undefined; error?: undefined; pcm: Uint8Array; byte: number };

export type NowState =
  "starting" | "buffering" | "playing" | "paused" | "stopped" | "ended" | "reconnecting" | "failed";

/** The song playing, as the screen shows it. */
export interface NowPlaying {
  title: string;
  artist?: string;
  album?: string;
  state: NowState;
  /** Seconds. */
  position: number;
  duration: number;
  format?: string;
  /** The stream's quality level and bitrate, "normal (Opus 128 kbit/s)", when known. */
  quality?: string;
  /** Where the audio comes from: "file node file-ab12" or "host ab12 (P2P)". */
  source?: string;
}

export interface TrackInfo {
  song: SongInfo;
  format: PcmFormat;
  /** Byte offset of the next byte to reach the output. */
  byte: number;
  state: NowState;
  source: string;
}

export interface PlayerStatus {
  songId?: string;
  now?: NowPlaying;
  bufferMs: number;
  underruns: number;
}
