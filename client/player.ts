/**
 * The player library: everything a listener does, for the screen, the
 * commands and the benchmarks. It logs in and keeps the session
 * (player/session.ts), plays one song at a time through the jitter buffer
 * and the output clock (player/song.ts), follows P2P hosts
 * (player/follow.ts), relays what it plays for others to join
 * (p2p/host.ts), and when the broker restarts, the session ends or the node
 * dies it gets the stream back from the byte it had (player/recovery.ts).
 * Closing it logs out.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { connectBroker } from "../actors/runtime/connect.js";
import { settlesWithin } from "../actors/runtime/shutdown.js";
import { ChorusError } from "../wire/errors.js";
import { ClientIdentity } from "./identity.js";
import { Host } from "./p2p/host.js";
import { BrokerLink } from "./player/broker-link.js";
import { PlayerEvents } from "./player/events.js";
import { Following } from "./player/follow.js";
import { Recovery } from "./player/recovery.js";
import { operationMs, SessionKeeper } from "./player/session.js";
import { CurrentSong } from "./player/song.js";
import type {
  JitterSettings,
  NowSong,
  PlayerEvent,
  PlayerOptions,
  PlayerStatus,
  TrackInfo,
} from "./player/types.js";
import { Deadline } from "./retry.js";
import type { OpenedStream, SongInfo, Source } from "./source.js";

export type * from "./player/types.js";

/** How long each goodbye to the system (stop, logout, disconnect) may take when closing. */
const goodbyeMs = 300;
/**
 * No audio for this long while playing, with less than this buffered (and no
 * `stallMs` given): the source is gone. A file node stays 2 s ahead in 500 ms
 * chunks, so a healthy one is never silent this long while the buffer is that
 * low; what is left buffered (1 s) covers finding another node.
 */
const defaultStallMs = 1000;

/** A stream just opened, and what the screen calls its source. */
interface Opened {
  stream: OpenedStream;
  label: string;
}

export class Player {
  private readonly events = new PlayerEvents();
  private readonly link = new BrokerLink();
  private readonly session: SessionKeeper;
  private readonly recovery: Recovery;
  private readonly following: Following;
  /** The song that follows a P2P host (until the player plays something else). */
  private followed?: CurrentSong;
  private current?: CurrentSong;
  private host?: Host;
  /** Bumped by every play/stop/close: stale async work checks it and gives up. */
  private generation = 0;
  private closed = false;
  private timer?: NodeJS.Timeout;

  private constructor(
    /** The public connection the first login goes on; closed once the session's own is open. */
    private bootstrap: NatsConnection | undefined,
    private readonly identity: ClientIdentity,
    private readonly options: PlayerOptions,
  ) {
    const connection = (): NatsConnection => this.nc;
    this.session = new SessionKeeper(
      connection,
      identity,
      options.credentials,
      options.config,
      // The level goes with every source the player finds, so a recovery keeps it.
      (ctx, deadline) => options.findSource({ ...ctx, quality: options.quality }, deadline),
      {
        ended: (reason) => {
          this.events.say(`session ended (${reason.message}); logging in again…`, true);
          void this.recovery.recover("session ended");
        },
        changed: () => this.events.changed(),
      },
      options.devices,
    );
    this.recovery = new Recovery(
      {
        closed: () => this.closed,
        generation: () => this.generation,
        current: () => this.current,
        rejoinHost: (deadline) => this.rejoinHost(deadline),
      },
      this.session,
      this.events,
      this.link,
      options.giveUpMs,
    );
    this.following = new Following(this.session, () => this.host?.id);
  }

  /** Connect to the broker and log in. Throws a readable ChorusError (wrong password, no broker). */
  static async start(options: PlayerOptions): Promise<Player> {
    const name = options.name ?? "chorus-player";
    const bootstrap = await connectBroker(options.config, "listener", name, undefined, {
      reconnect: true,
    });
    const identity = new ClientIdentity(options.config, name);
    const player = new Player(bootstrap, identity, options);
    try {
      await player.session.login(new Deadline(operationMs));
    } catch (err) {
      await identity.close();
      throw err;
    } finally {
      player.bootstrap = undefined;
      await bootstrap.close().catch(() => undefined);
    }
    if (options.host !== false) {
      player.host = Host.start(player.nc, player, options.config, identity.clientId);
    }
    player.watchBroker();
    player.timer = setInterval(() => player.tick(), 200);
    return player;
  }

  get user(): string {
    return this.session.user;
  }

  get output(): string {
    return this.options.output.description;
  }

  /** The session's own connection once logged in (the public one before). */
  get connection(): NatsConnection {
    return this.nc;
  }

  private get nc(): NatsConnection {
    const nc = this.identity.connection ?? this.bootstrap;
    if (!nc) throw new ChorusError("UNAVAILABLE", "the player has no broker connection");
    return nc;
  }

  /** The P2P host id others join this player with (none with `host: false`). */
  get hostId(): string | undefined {
    return this.host?.id;
  }

  /** The session, for requests made on the user's behalf (the P2P host registers with it). */
  sessionRef(): { authNode: string; sessionId: string; token: string } | undefined {
    return this.session.ref();
  }

  /** The song playing and where, for the P2P host. */
  nowPlaying(): NowSong | undefined {
    return this.current?.nowSong();
  }

  info(): { authNode?: string; fileNode?: string } {
    return { authNode: this.session.authNode, fileNode: this.session.sourceId };
  }

  onChange(listener: (event: PlayerEvent) => void): () => void {
    return this.events.on(listener);
  }

  async songs(): Promise<SongInfo[]> {
    return this.session.withSource((source, deadline) => source.songs(deadline));
  }

  // ---- playing ---------------------------------------------------------------

  /**
   * Play a song (id or file name from the listing) from `fromSeconds`, for
   * `forSeconds` when given. Resolves once it streams.
   */
  async play(song: string, fromSeconds = 0, forSeconds?: number): Promise<void> {
    await this.begin(
      () =>
        this.session.withSource(async (source, deadline) => ({
          stream: await source.open(song, fromSeconds, deadline),
          label: source.label,
        })),
      forSeconds,
    );
  }

  /**
   * Play from another source (a P2P host, issue 6). Should that source fail
   * mid-song, the player carries on from a file node at the same byte.
   */
  async playFrom(source: Source, song: string, fromSeconds = 0): Promise<void> {
    const deadline = new Deadline(operationMs);
    await this.begin(async () => ({
      stream: await source.open(song, fromSeconds, deadline),
      label: source.label,
    }));
  }

  /**
   * Follow a P2P host (its id, or its user's name): play what it plays from
   * the point it is at, pausing, seeking and changing songs with it. When the
   * host goes away, playback carries on from a file node at the same point.
   */
  async join(host: string, forSeconds?: number): Promise<void> {
    this.checkOpen();
    // Joined before the current song stops: a failed join leaves it playing.
    const joined = await this.following.join(host, new Deadline(operationMs));
    await this.begin(async () => joined, forSeconds, this.following.jitter);
    this.followed = this.current;
  }

  /** After a broker restart: join the host the current song follows again, at its point. */
  private async rejoinHost(deadline: Deadline): Promise<boolean> {
    const host = this.following.hostId;
    if (!host || !this.current || this.current !== this.followed) return false;
    const joined = await this.following.join(host, deadline);
    await this.begin(async () => joined, undefined, this.following.jitter);
    this.followed = this.current;
    this.events.say("joined the host again");
    return true;
  }

  private async begin(
    open: () => Promise<Opened>,
    forSeconds?: number,
    jitter: JitterSettings = {},
  ): Promise<void> {
    this.checkOpen();
    // The old stream's stop goes out without waiting for its answer: the new song starts sooner.
    await this.stopCurrent(false);
    const generation = ++this.generation;
    const { stream, label } = await open();
    if (generation !== this.generation) {
      void stream.stop().catch(() => undefined);
      return;
    }
    const song = this.newSong(stream, label, jitter);
    this.current = song;
    await song.start(this.options.output, this.options.clock, forSeconds);
  }

  private newSong(stream: OpenedStream, label: string, jitter: JitterSettings): CurrentSong {
    const song: CurrentSong = new CurrentSong(
      stream,
      label,
      { ...this.options.jitter, ...jitter },
      {
        events: this.events,
        lost: (why) => void this.recovery.recover(why),
        nextSong: (next) => this.follow(song, next),
      },
    );
    return song;
  }

  /** A new song on the host we follow: a new buffer and sink on the same stream. */
  private follow(previous: CurrentSong, stream: OpenedStream): void {
    previous.detach();
    this.generation++;
    const next = this.newSong(
      stream,
      this.following.label ?? this.session.sourceLabel ?? "",
      this.following.jitter,
    );
    this.current = next;
    if (this.followed === previous) this.followed = next;
    this.events.changed();
    void (async () => {
      // The old sink closes before the new one opens (a WAV file is finished first).
      await previous.stop().catch(() => undefined);
      await next.start(this.options.output, this.options.clock);
    })().catch((err: unknown) => this.events.say(String(err), true));
  }

  async pause(): Promise<void> {
    await this.active().pause();
  }

  async resume(): Promise<void> {
    await this.active().resume();
  }

  /** Jump to `seconds` (clamped to the song). After the end or a stop, plays again from there. */
  async seek(seconds: number): Promise<void> {
    const c = this.current;
    if (!c) throw new ChorusError("BAD_REQUEST", "nothing is playing");
    const at = Math.max(0, Math.min(seconds, Math.max(0, c.song.duration - 0.05)));
    // A stream whose end has arrived is over at its node (the buffer still plays its tail):
    // a seek opens the song again there.
    if (c.stopped || c.ended || c.failed || !c.stream || c.buffer.endReceived) {
      await this.play(c.song.id, at);
      return;
    }
    // The song hears where it lands (and restarts its buffer there) before this resolves.
    try {
      await c.stream.seek(at);
    } catch (err) {
      if (!(err instanceof ChorusError && err.code === "NOT_FOUND")) throw err;
      await this.play(c.song.id, at);
    }
  }

  async stop(): Promise<void> {
    await this.stopCurrent();
    this.events.changed();
  }

  private async stopCurrent(waitForSource = true): Promise<void> {
    this.generation++;
    await this.current?.stop(waitForSource);
  }

  /** Resolves when the current song has played to its end, or was stopped. */
  waitForEnd(): Promise<"ended" | "stopped"> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const c = this.current;
        if (!c || c.stopped) resolve("stopped");
        else if (c.failed) reject(new ChorusError("UNAVAILABLE", c.failed));
        else if (c.ended) resolve("ended");
        else return false;
        return true;
      };
      if (check()) return;
      const off = this.onChange(() => {
        if (check()) off();
      });
    });
  }

  private active(): CurrentSong {
    const c = this.current;
    if (!c || c.stopped || c.ended) throw new ChorusError("BAD_REQUEST", "nothing is playing");
    return c;
  }

  // ---- status --------------------------------------------------------------------

  /** Playback position of the current song, in seconds. */
  get position(): number {
    return this.current?.position ?? 0;
  }

  /** The song playing now, its format and byte position (what a P2P host announces). */
  track(): TrackInfo | undefined {
    const c = this.current;
    if (!c) return undefined;
    return {
      song: c.song,
      format: c.format,
      byte: c.buffer.offset,
      state: c.state(this.recovery.active),
      source: c.label,
    };
  }

  status(): PlayerStatus {
    const c = this.current;
    if (!c) return { bufferMs: 0, underruns: 0 };
    return {
      songId: c.song.id,
      now: c.nowPlaying(this.recovery.active),
      bufferMs: c.buffer.bufferedMs,
      underruns: c.underruns,
    };
  }

  // ---- keeping it going ------------------------------------------------------

  private tick(): void {
    const stalled = this.current?.keepUp(this.options.stallMs ?? defaultStallMs);
    // With the broker away no source can send: the recovery waits for it, on the same source.
    if (stalled && !this.recovery.active) {
      void this.recovery.recover(this.link.up ? "no audio from the source" : "broker lost");
    }
  }

  private watchBroker(): void {
    void (async () => {
      // The broker drops the session's identity at its JWT's expiry and the connection comes
      // back at once with the renewed one: not worth telling the listener.
      let renewing = false;
      for await (const s of this.nc.status()) {
        if (this.closed) return;
        if (s.type === "error") renewing = /authentication expired/i.test(s.error.message);
        if (s.type === "disconnect") this.link.down();
        if (s.type === "disconnect" && !renewing) {
          this.events.say("lost the broker; reconnecting…", true);
        }
        if (s.type === "reconnect") {
          this.link.back();
          if (!renewing) this.events.say("broker back", false);
          renewing = false;
          // Whatever the broker kept, the stream is re-opened from the byte we have.
          if (this.current && !this.current.stopped) {
            void this.recovery.recover("broker reconnected");
          }
        }
      }
    })().catch(() => undefined);
  }

  private checkOpen(): void {
    if (this.closed) throw new ChorusError("BAD_REQUEST", "the player is closed");
  }

  /** Stop playing, log out, close the connection. Never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    // With the broker gone each goodbye would wait for its request timeout:
    // bound them, so Ctrl-C stops within 2 s and the output is always closed.
    const goodbye = async (p: Promise<unknown>): Promise<void> => {
      await settlesWithin(p, goodbyeMs);
    };
    await goodbye(this.stopCurrent());
    this.closed = true;
    clearInterval(this.timer);
    this.host?.stop();
    await this.session.close(goodbye);
    await this.options.output.close().catch(() => undefined);
    await goodbye(this.identity.close());
  }
}
