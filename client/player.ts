/**
 * The player library: everything a listener does, for the screen, the
 * commands and the benchmarks. It logs in through the prime and keeps the
 * session beating, finds a source (a file node), lists songs, plays through
 * the jitter buffer and the real-time clock into an output, pauses, resumes,
 * seeks, stops — and when the broker restarts, the session ends or the node
 * dies, it logs in again / finds another node and carries on from the byte it
 * had, keeping what it had buffered. Closing it logs out.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { connectBroker } from "../actors/runtime/connect.js";
import { ChorusError } from "../wire/errors.js";
import { settlesWithin } from "../actors/runtime/shutdown.js";
import {
  bytesPerSecond,
  bytesToSeconds,
  describeFormat,
  frameBytes,
  secondsToBytes,
} from "./audio/format.js";
import type { PcmFormat } from "./audio/format.js";
import { JitterBuffer, type JitterOptions } from "./audio/jitter.js";
import type { AudioOutput } from "./audio/output.js";
import { defaultPlayback, Playback, type PlaybackOptions } from "./audio/playback.js";
import { UserSession } from "./auth.js";
import type { Credentials } from "../cli/credentials.js";
import { Host } from "./p2p/host.js";
import { HostSource, HostStream, joinJitter } from "./p2p/join.js";
import type { NowPlaying, NowState } from "../cli/screen/view.js";
import type {
  AudioChunk,
  EndReason,
  OpenedStream,
  SongInfo,
  Source,
  StreamHandlers,
  StreamPoint,
} from "./source.js";

/** How long each goodbye to the system (stop, logout, disconnect) may take when closing. */
const goodbyeMs = 300;

export interface SourceContext {
  nc: NatsConnection;
  session: UserSession;
  config: ChorusConfig;
}
export type SourceFinder = (ctx: SourceContext) => Promise<Source>;

export interface PlayerOptions {
  config: ChorusConfig;
  credentials: Credentials;
  output: AudioOutput;
  findSource: SourceFinder;
  /** Buffering before the first sample / after an underrun. */
  jitter?: Partial<Pick<JitterOptions, "startMs" | "rebufferMs">>;
  playback?: PlaybackOptions;
  /** No audio for this long while playing means the source is gone. */
  stallMs?: number;
  /** Give up a song whose stream cannot be got back for this long (default: never). */
  giveUpMs?: number;
  /** Name of the broker connection. */
  name?: string;
  /** Relay what is played so others can join (P2P, client/p2p/host.ts); default true. */
  host?: boolean;
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
}

export type PlayerEvent =
  | { kind: "changed"; message?: undefined; error?: undefined }
  | { kind: "message"; message: string; error: boolean }
  | { kind: "first-sample"; message?: undefined; error?: undefined; at: number }
  | { kind: "ended"; message?: undefined; error?: undefined }
  | { kind: "played"; message?: undefined; error?: undefined; pcm: Uint8Array; byte: number };

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

/** One song being played. */
interface Current {
  /** What the screen shows as "from": the file node or host serving the stream now. */
  sourceLabel: string;
  song: SongInfo;
  format: PcmFormat;
  stream?: OpenedStream;
  epoch: number;
  buffer: JitterBuffer;
  playback: Playback;
  lastChunkAt: number;
  paused: boolean;
  stopped: boolean;
  failed?: string;
  /** Underruns of earlier buffers of this song (a recovery makes a new stream, not a new buffer). */
  total: number;
  /** Paused by the P2P host it follows (it resumes when the host does). */
  held?: boolean;
}

const defaultJitter = { startMs: 0, rebufferMs: 300 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Player {
  private session?: UserSession;
  private source?: Source;
  private current?: Current;
  private host?: Host;
  /** The P2P host joined last (its label names the source of songs it changes to). */
  private following?: HostSource;
  /** Bumped by every play/stop/close: stale async work checks it and gives up. */
  private generation = 0;
  private recovering = false;
  private closed = false;
  private timer?: NodeJS.Timeout;
  private readonly listeners = new Set<(event: PlayerEvent) => void>();
  /** Chunks that arrived before the reply that tells which stream/epoch they belong to. */
  private early: AudioChunk[] = [];
  /** Streams we stopped or replaced: what still arrives from them is dropped at once. */
  private readonly retired = new Set<string>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly options: PlayerOptions,
  ) {}

  /** Connect to the broker and log in. Throws a readable ChorusError (wrong password, no broker). */
  static async start(options: PlayerOptions): Promise<Player> {
    const nc = await connectBroker(
      options.config,
      "listener",
      options.name ?? "chorus-player",
      undefined,
      {
        reconnect: true,
      },
    );
    const player = new Player(nc, options);
    try {
      await player.login();
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
    if (options.host !== false) player.host = Host.start(nc, player, options.config);
    player.watchBroker();
    player.timer = setInterval(() => player.tick(), 200);
    return player;
  }

  get user(): string {
    return this.session?.user ?? this.options.credentials.user;
  }

  get output(): string {
    return this.options.output.description;
  }

  get connection(): NatsConnection {
    return this.nc;
  }

  /** The P2P host id others join this player with (none with `host: false`). */
  get hostId(): string | undefined {
    return this.host?.id;
  }

  /** The session, for requests made on the user's behalf (the P2P host registers with it). */
  sessionRef(): { authNode: string; sessionId: string; token: string } | undefined {
    const s = this.session;
    return s?.alive ? { authNode: s.authNode, ...s.credentials() } : undefined;
  }

  /** The song playing and where, for the P2P host. */
  nowPlaying(): NowSong | undefined {
    const c = this.current;
    if (!c) return undefined;
    const st = c.playback.state;
    const state =
      c.stopped || c.failed || st === "stopped" || st === "failed"
        ? "stopped"
        : st === "ended"
          ? "ended"
          : c.paused
            ? "paused"
            : "playing";
    const depth = c.stream instanceof HostStream ? c.stream.depth + 1 : 0;
    return { song: c.song, format: c.format, state, byte: c.buffer.offset, depth };
  }

  info(): { authNode?: string; fileNode?: string } {
    return { authNode: this.session?.authNode, fileNode: this.source?.id };
  }

  onChange(listener: (event: PlayerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: PlayerEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // one listener's failure must not stop the others
      }
    }
  }

  private say(message: string, error = false): void {
    this.emit({ kind: "message", message, error });
  }

  // ---- session and source -------------------------------------------------

  private async login(): Promise<void> {
    const { user, password } = this.options.credentials;
    const session = await UserSession.login(this.nc, user, password, {
      onExpired: (reason) => {
        if (this.closed || this.session !== session) return;
        this.say(`session ended (${reason.message}); logging in again…`, true);
        void this.recover("session ended");
      },
    });
    this.session = session;
    this.emit({ kind: "changed" });
  }

  /** Forget the session (logging it out where it still lives, so no stale session stays). */
  private async resetSession(): Promise<void> {
    const old = this.session;
    this.session = undefined;
    await old?.logout().catch(() => undefined);
  }

  private async ensureSource(): Promise<Source> {
    if (!this.session?.alive) {
      await this.dropSource();
      await this.login();
    }
    if (!this.source) {
      this.source = await this.options.findSource({
        nc: this.nc,
        session: this.session as UserSession,
        config: this.options.config,
      });
      this.emit({ kind: "changed" });
    }
    return this.source;
  }

  private async dropSource(): Promise<void> {
    const source = this.source;
    this.source = undefined;
    await source?.close().catch(() => undefined);
  }

  async songs(): Promise<SongInfo[]> {
    return this.retrying(async () => (await this.ensureSource()).songs());
  }

  /**
   * Run `action`; when the node is gone or not answering yet (a node the prime
   * just spawned subscribes moments after it is announced) or the session
   * ended, start again with a fresh node / session for a few seconds.
   */
  private async retrying<T>(action: () => Promise<T>, deadlineMs = 8000): Promise<T> {
    const deadline = performance.now() + deadlineMs;
    let wait = 50;
    for (;;) {
      try {
        return await action();
      } catch (err) {
        const session = isSessionError(err);
        const retry = session || (err instanceof ChorusError && err.retryable);
        if (!retry || performance.now() + wait > deadline || this.closed) throw err;
        if (session) await this.resetSession();
        await this.dropSource();
        await sleep(wait);
        wait = Math.min(800, wait * 2);
      }
    }
  }

  // ---- playing ---------------------------------------------------------------

  /**
   * Play a song (id or file name from the listing) from `fromSeconds`, for
   * `forSeconds` when given. Resolves once it streams.
   */
  async play(song: string, fromSeconds = 0, forSeconds?: number): Promise<void> {
    await this.begin(() => this.retrying(() => this.openStream(song, fromSeconds)), forSeconds);
  }

  /**
   * Play from another source (a P2P host, issue 6). Should that source fail
   * mid-song, the player carries on from a file node at the same byte.
   */
  async playFrom(source: Source, song: string, fromSeconds = 0): Promise<void> {
    await this.begin(() => source.open(song, fromSeconds, this.handlers()), undefined, source);
  }

  /**
   * Follow a P2P host (its id, or its user's name): play what it plays from
   * the point it is at, pausing, seeking and changing songs with it. When the
   * host goes away, playback carries on from a file node at the same point.
   */
  async join(host: string, forSeconds?: number): Promise<void> {
    this.checkOpen();
    if (host === this.host?.id) throw new ChorusError("BAD_REQUEST", "that host is you");
    if (!this.session?.alive) {
      await this.dropSource();
      await this.login();
    }
    const ctx = { nc: this.nc, session: this.session as UserSession, config: this.options.config };
    const source = new HostSource(ctx, host);
    // Joined before the current song stops: a failed join leaves it playing.
    const opened = await source.open("", 0, this.handlers());
    this.following = source;
    await this.begin(async () => opened, forSeconds, source, joinJitter);
    const stream = this.current?.stream;
    if (stream instanceof HostStream && stream.held) this.onHostPaused(stream.id, true);
  }

  private async begin(
    open: () => Promise<OpenedStream>,
    forSeconds?: number,
    source?: Source,
    jitter?: Partial<Pick<JitterOptions, "startMs" | "rebufferMs">>,
  ): Promise<void> {
    this.checkOpen();
    // The old stream's stop goes out without waiting for its answer: the new song starts sooner.
    await this.stopCurrent(false);
    const generation = ++this.generation;
    // Early chunks are kept: a joined host's backlog may already be here (flushEarly
    // takes only the new stream's).
    const opened = await open();
    if (generation !== this.generation) {
      this.retire(opened);
      return;
    }
    const sink = await this.options.output.open(opened.format);
    const format = opened.format;
    const buffer = new JitterBuffer(opened.start.byte, {
      bytesPerSecond: bytesPerSecond(format),
      frameBytes: frameBytes(format),
      ...defaultJitter,
      ...this.options.jitter,
      ...jitter,
    });
    const current: Current = {
      sourceLabel: (source ?? this.source)?.label ?? "",
      song: opened.song,
      format,
      stream: opened,
      epoch: opened.start.epoch,
      buffer,
      playback: undefined as unknown as Playback,
      lastChunkAt: performance.now(),
      paused: false,
      stopped: false,
      total: 0,
    };
    current.playback = new Playback(
      buffer,
      sink,
      format,
      {
        firstSample: () => this.emit({ kind: "first-sample", at: performance.now() }),
        played: (pcm, byte) => this.emit({ kind: "played", pcm, byte }),
        ended: () => {
          // Ended before the song did (--for): the source need not send more.
          if (!buffer.endReceived) void current.stream?.stop().catch(() => undefined);
          this.emit({ kind: "ended" });
          this.emit({ kind: "changed" });
        },
        failed: (err) => this.fail(current, `audio output failed: ${err.message}`),
      },
      this.options.playback ?? defaultPlayback,
    );
    if (forSeconds !== undefined) {
      current.playback.endByte = opened.start.byte + secondsToBytes(format, forSeconds);
    }
    this.current = current;
    this.flushEarly();
    current.playback.start();
    this.emit({ kind: "changed" });
  }

  private async openStream(song: string, fromSeconds: number): Promise<OpenedStream> {
    const source = await this.ensureSource();
    return source.open(song, fromSeconds, this.handlers());
  }

  private handlers(): StreamHandlers {
    return {
      chunk: (chunk) => this.onChunk(chunk),
      end: (stream, reason, message) => this.onEnd(stream, reason, message),
      moved: (stream, point, song) => this.onMoved(stream, point, song),
      paused: (stream, paused) => this.onHostPaused(stream, paused),
    };
  }

  /** The host we follow jumped (seek, catch-up, rejoin) or changed songs. */
  private onMoved(stream: string, point: StreamPoint, song?: SongInfo): void {
    const c = this.current;
    if (!c?.stream || stream !== c.stream.id || c.stopped) return;
    if (song || c.playback.state === "ended") {
      void this.follow(c).catch((err: unknown) => this.say(String(err), true));
      return;
    }
    this.restartAt(c, point);
  }

  /** A new song on the host we follow: a new buffer and sink on the same stream. */
  private async follow(c: Current): Promise<void> {
    const stream = c.stream;
    if (!stream) return;
    c.stream = undefined;
    c.stopped = true;
    await c.playback.stop().catch(() => undefined);
    await this.begin(async () => stream, undefined, this.following, joinJitter);
  }

  /** The host we follow paused or resumed. */
  private onHostPaused(stream: string, paused: boolean): void {
    const c = this.current;
    if (!c?.stream || stream !== c.stream.id || c.stopped) return;
    c.held = paused;
    if (paused && !c.paused) {
      c.paused = true;
      c.playback.pause();
    } else if (!paused && c.paused) {
      c.paused = false;
      c.lastChunkAt = performance.now();
      c.playback.resume();
    }
    this.emit({ kind: "changed" });
  }

  private onChunk(chunk: AudioChunk): void {
    const c = this.current;
    if (this.retired.has(chunk.stream)) return;
    if (!c?.stream || chunk.stream !== c.stream.id || chunk.epoch > c.epoch) {
      // Maybe the reply naming this stream (or epoch) is still on its way.
      this.early.push(chunk);
      if (this.early.length > 32) this.early.shift();
      return;
    }
    if (chunk.epoch < c.epoch) return; // before a seek
    c.buffer.push(chunk.byte, chunk.pcm);
    c.lastChunkAt = performance.now();
    c.playback.kick();
  }

  private retire(stream: OpenedStream | undefined): void {
    if (!stream) return;
    this.retired.add(stream.id);
    if (this.retired.size > 64) this.retired.delete(this.retired.values().next().value as string);
    void stream.stop().catch(() => undefined);
  }

  private flushEarly(): void {
    const c = this.current;
    const early = this.early;
    this.early = [];
    if (!c?.stream) return;
    for (const chunk of early) {
      if (chunk.stream === c.stream.id && chunk.epoch === c.epoch) this.onChunk(chunk);
    }
  }

  private onEnd(stream: string, reason: EndReason, message?: string): void {
    const c = this.current;
    if (!c?.stream || stream !== c.stream.id || c.stopped) return;
    if (reason === "eos") {
      c.buffer.end();
      c.playback.kick();
      return;
    }
    if (reason === "stopped") return;
    if (reason === "removed") {
      this.fail(c, `the song cannot be played any more: ${message ?? reason}`);
      return;
    }
    void this.recover(message ?? reason);
  }

  async pause(): Promise<void> {
    const c = this.active();
    if (c.paused) return;
    c.paused = true;
    c.playback.pause();
    this.emit({ kind: "changed" });
    await c.stream?.pause();
  }

  async resume(): Promise<void> {
    const c = this.active();
    if (!c.paused) return;
    if (c.held) throw new ChorusError("BAD_REQUEST", "the host has paused: you go on when it does");
    await c.stream?.resume();
    if (c.held) return; // rejoined a host that is paused now
    c.paused = false;
    c.lastChunkAt = performance.now();
    c.playback.resume();
    this.emit({ kind: "changed" });
  }

  /** Jump to `seconds` (clamped to the song). After the end or a stop, plays again from there. */
  async seek(seconds: number): Promise<void> {
    const c = this.current;
    if (!c) throw new ChorusError("BAD_REQUEST", "nothing is playing");
    const at = Math.max(0, Math.min(seconds, Math.max(0, c.song.duration - 0.05)));
    if (c.stopped || c.playback.state === "ended" || c.failed || !c.stream) {
      await this.play(c.song.id, at);
      return;
    }
    const point = await c.stream.seek(at);
    this.restartAt(c, point);
  }

  /** The stream continues from a new point (a seek, or the host moved): a fresh buffer there. */
  private restartAt(c: Current, point: StreamPoint): void {
    c.epoch = point.epoch;
    c.total += c.buffer.underruns;
    c.buffer.underruns = 0;
    c.buffer.reset(point.byte);
    c.lastChunkAt = performance.now();
    c.playback.rebase();
    this.flushEarly();
    this.emit({ kind: "changed" });
  }

  async stop(): Promise<void> {
    await this.stopCurrent();
    this.emit({ kind: "changed" });
  }

  private async stopCurrent(waitForSource = true): Promise<void> {
    const c = this.current;
    this.generation++;
    if (!c || c.stopped) return;
    c.stopped = true;
    if (c.stream) this.retired.add(c.stream.id);
    const stream = c.stream?.stop().catch(() => undefined);
    await Promise.all([
      waitForSource ? stream : undefined,
      c.playback.stop().catch(() => undefined),
    ]);
  }

  /** Resolves when the current song has played to its end, or was stopped. */
  waitForEnd(): Promise<"ended" | "stopped"> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const c = this.current;
        if (!c || c.stopped) resolve("stopped");
        else if (c.failed) reject(new ChorusError("UNAVAILABLE", c.failed));
        else if (c.playback.state === "ended") resolve("ended");
        else return false;
        return true;
      };
      if (check()) return;
      const off = this.onChange(() => {
        if (check()) off();
      });
    });
  }

  private active(): Current {
    const c = this.current;
    if (!c || c.stopped || c.playback.state === "ended") {
      throw new ChorusError("BAD_REQUEST", "nothing is playing");
    }
    return c;
  }

  // ---- status --------------------------------------------------------------------

  /** Playback position of the current song, in seconds. */
  get position(): number {
    const c = this.current;
    return c ? bytesToSeconds(c.format, c.buffer.offset) : 0;
  }

  /** The song playing now, its format and byte position (what a P2P host announces). */
  track(): TrackInfo | undefined {
    const c = this.current;
    if (!c) return undefined;
    return {
      song: c.song,
      format: c.format,
      byte: c.buffer.offset,
      state: this.nowState(c),
      source: c.sourceLabel,
    };
  }

  status(): PlayerStatus {
    const c = this.current;
    if (!c) return { bufferMs: 0, underruns: 0 };
    return {
      songId: c.song.id,
      now: {
        title: c.song.title,
        ...(c.song.artist ? { artist: c.song.artist } : {}),
        ...(c.song.album ? { album: c.song.album } : {}),
        state: this.nowState(c),
        position: bytesToSeconds(c.format, c.buffer.offset),
        duration: c.song.duration,
        format: describeFormat(c.format),
        source: c.sourceLabel,
      },
      bufferMs: c.buffer.bufferedMs,
      underruns: c.total + c.buffer.underruns,
    };
  }

  private nowState(c: Current): NowState {
    if (c.failed) return "failed";
    if (c.stopped) return "stopped";
    if (this.recovering && c.playback.state !== "ended") return "reconnecting";
    const state = c.playback.state;
    return state === "failed" ? "failed" : state === "stopped" ? "stopped" : state;
  }

  // ---- keeping it going ------------------------------------------------------

  private tick(): void {
    const c = this.current;
    if (!c?.stream || c.stopped || c.paused || c.failed) return;
    if (c.playback.state === "ended") return;
    c.stream.position(c.buffer.offset);
    const stalled = performance.now() - c.lastChunkAt > (this.options.stallMs ?? 1500);
    if (stalled && !c.buffer.endReceived && !this.recovering) {
      void this.recover("no audio from the source");
    }
  }

  private watchBroker(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (this.closed) return;
        if (s.type === "disconnect") this.say("lost the broker; reconnecting…", true);
        if (s.type === "reconnect") {
          this.say("broker back", false);
          // Whatever the broker kept, the stream is re-opened from the byte we have.
          if (this.current && !this.current.stopped) void this.recover("broker reconnected");
        }
      }
    })().catch(() => undefined);
  }

  /**
   * Open the current song again from the first byte not yet received — with a
   * new session and another node when needed — and keep the buffer, so
   * playback carries on where it was. Retries until it works or the user moves on.
   */
  private async recover(why: string): Promise<void> {
    if (this.recovering || this.closed) return;
    this.recovering = true;
    const generation = this.generation;
    const c = this.current;
    this.emit({ kind: "changed" });
    // Requests wait out a reconnect for their full timeout: the give-up runs on its own clock.
    const giveUp = this.options.giveUpMs;
    const timer =
      giveUp === undefined || !c
        ? undefined
        : setTimeout(() => {
            if (this.recovering && !c.stopped) {
              this.fail(
                c,
                `lost the stream (${why}) and could not get it back in ${giveUp / 1000} s`,
              );
            }
          }, giveUp);
    try {
      let wait = 100;
      for (
        let attempt = 1;
        !this.closed && generation === this.generation && !c?.failed;
        attempt++
      ) {
        try {
          if (why !== "broker reconnected" || attempt > 1) await this.dropSource();
          if (this.session && !this.session.alive) await this.resetSession();
          if (!c || c.stopped) {
            // Nothing to resume: a fresh session is all that is needed.
            await this.ensureSource();
            return;
          }
          await this.resumeStream(c, generation);
          this.say(`carrying on from ${clock(bytesToSeconds(c.format, c.buffer.offset))}`);
          return;
        } catch (err) {
          if (err instanceof ChorusError && err.code === "NOT_FOUND" && c) {
            this.fail(c, `cannot carry on: ${err.message}`);
            return;
          }
          if (isSessionError(err)) await this.resetSession();
          if (attempt === 1 || attempt % 10 === 0) this.say(`reconnecting (${why})…`, true);
          await sleep(wait);
          wait = Math.min(2000, wait * 2);
        }
      }
    } finally {
      clearTimeout(timer);
      this.recovering = false;
      this.emit({ kind: "changed" });
    }
  }

  private async resumeStream(c: Current, generation: number): Promise<void> {
    const old = c.stream;
    c.stream = undefined;
    this.retire(old);
    const frame = frameBytes(c.format);
    const resumeByte = c.buffer.receivedOffset;
    const totalBytes = Math.round(c.song.duration * bytesPerSecond(c.format));
    if (resumeByte >= totalBytes - frame) {
      c.buffer.end();
      return;
    }
    // Half a frame early: rounding lands on the frame before, never after; the
    // jitter buffer trims the repeated bytes.
    const from = Math.max(0, (resumeByte / frame - 0.5) / c.format.sampleRate);
    const source = await this.ensureSource();
    const opened = await source.open(c.song.id, from, this.handlers());
    if (generation !== this.generation || c.stopped || c.failed) {
      this.retire(opened);
      return;
    }
    c.stream = opened;
    c.sourceLabel = source.label;
    c.epoch = opened.start.epoch;
    c.lastChunkAt = performance.now();
    if (c.paused) await opened.pause();
    this.flushEarly();
  }

  /** The song cannot go on: say why once; waitForEnd() rejects with it. */
  private fail(c: Current, message: string): void {
    if (c.failed) return;
    c.failed = message;
    this.say(message, true);
    void c.stream?.stop().catch(() => undefined);
    void c.playback.stop().catch(() => undefined);
    this.emit({ kind: "changed" });
  }

  private checkOpen(): void {
    if (this.closed) throw new ChorusError("BAD_REQUEST", "the player is closed");
  }

  /** Stop playing, log out, close the connection. Never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    // With the broker gone each goodbye would wait for its request timeout:
    // bound them, so Ctrl-C stops within 2 s and the output is always closed.
    await settlesWithin(this.stopCurrent(), goodbyeMs);
    this.closed = true;
    clearInterval(this.timer);
    this.host?.stop();
    await settlesWithin(this.session?.logout() ?? Promise.resolve(), goodbyeMs);
    await settlesWithin(this.dropSource(), goodbyeMs);
    await this.options.output.close().catch(() => undefined);
    await settlesWithin(this.nc.close(), goodbyeMs);
  }
}

function isSessionError(err: unknown): boolean {
  return err instanceof ChorusError && err.code === "UNAUTHORIZED";
}

function clock(seconds: number): string {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
