/**
 * Hosting: a player relays every piece of audio as it plays it — signed,
 * with its byte position and play time — on `chorus.relay.<id>` (the prime's
 * CHORUS_RELAY stream keeps a few seconds), and beats its presence on
 * `chorus.hosts.<id>`. Publishing is fire-and-forget: the stream takes the
 * frames and drops the oldest, so no joiner, slow or not, can hold the host up.
 */
import { at } from "../../wire/contract.js";
import { newHostKeys } from "./keys.js";
import { primeHost } from "../../wire/p2p.js";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ChorusConfig } from "../../actors/runtime/config.js";
import { call } from "../../actors/runtime/endpoint.js";
import {
  encodeFrame,
  signPresence,
  type HostPresence,
  type RelayHeader,
  type RelayState,
} from "../../wire/p2p.js";
import { subjects } from "../../wire/subjects.js";
import { bytesToSeconds } from "../audio/format.js";
import type { NowSong, PlayerEvent } from "../player/types.js";

/** What hosting needs from the player library. */
export interface HostedPlayer {
  readonly user: string;
  onChange(listener: (event: PlayerEvent) => void): () => void;
  nowPlaying(): NowSong | undefined;
  sessionRef(): { authNode: string; sessionId: string; token: string } | undefined;
}

export class Host {
  private readonly keys = newHostKeys();
  private seq = 0;
  private epoch = 0;
  private songId?: string;
  private nextByte = -1;
  private relayed: RelayState | "idle" = "idle";
  private listeners = 0;
  private stopped = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private off?: () => void;
  /** Frames published, for tests and benchmarks. */
  frames = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly player: HostedPlayer,
    private readonly heartbeatMs: number,
    /** The client id of the session's broker identity: the only one allowed to publish as it. */
    readonly id: string,
  ) {}

  static start(nc: NatsConnection, player: HostedPlayer, config: ChorusConfig, id: string): Host {
    const host = new Host(nc, player, config.heartbeatMs, id);
    host.off = player.onChange((event) => {
      try {
        if (event.kind === "played") host.relay(event.pcm, event.byte);
        else if (event.kind === "changed" || event.kind === "ended") host.stateChanged();
      } catch {
        // relaying must never disturb playback
      }
    });
    // Register first: the prime ignores beats of a host id it has no key for.
    void host.register().finally(() => host.beat());
    host.timers.push(setInterval(() => host.beat(), config.heartbeatMs));
    host.timers.push(
      setInterval(() => void host.register(), Math.max(1000, 5 * config.heartbeatMs)),
    );
    for (const t of host.timers) t.unref();
    void host.registerOnReconnect();
    return host;
  }

  /**
   * After a broker restart the prime's host table may be empty: register
   * again at once (every quarter second until the prime answers, for a few
   * seconds), so joiners find us again, not a file node.
   */
  private async registerOnReconnect(): Promise<void> {
    try {
      for await (const s of this.nc.status()) {
        if (this.stopped) return;
        if (s.type !== "reconnect") continue;
        for (let i = 0; i < 12 && !this.stopped && !(await this.register()); i++) {
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    } catch {
      // the connection closed
    }
  }

  /** One piece of audio just went to the output. */
  private relay(pcm: Uint8Array, byte: number): void {
    const now = this.player.nowPlaying();
    if (!now || this.stopped) return;
    if (now.song.id !== this.songId || byte !== this.nextByte) {
      // A seek, a new song, a recovery: joiners start over here.
      this.epoch++;
      this.songId = now.song.id;
    }
    this.nextByte = byte + pcm.length;
    if (this.relayed !== "playing") {
      this.relayed = "playing";
      queueMicrotask(() => this.beat());
    }
    this.publish("playing", now, byte, pcm);
  }

  private stateChanged(): void {
    const now = this.player.nowPlaying();
    const state: RelayState | "idle" = now
      ? now.state
      : this.relayed === "idle"
        ? "idle"
        : "stopped";
    if (state === this.relayed || state === "playing") return;
    this.relayed = state;
    if (now && state !== "idle") this.publish(state, now, now.byte, new Uint8Array(0));
    this.beat();
  }

  private publish(state: RelayState, now: NowSong, byte: number, pcm: Uint8Array): void {
    const { song, format } = now;
    const header: RelayHeader = {
      v: 1,
      host: this.id,
      seq: this.seq++,
      epoch: this.epoch,
      state,
      song: {
        id: song.id,
        title: song.title,
        ...(song.artist ? { artist: song.artist } : {}),
        ...(song.album ? { album: song.album } : {}),
        file: song.file,
        duration: song.duration,
      },
      format: {
        sampleRate: format.sampleRate,
        channels: format.channels,
        bitDepth: format.bitDepth as 8 | 16 | 24 | 32,
        ...(format.float ? { float: true } : {}),
      },
      byte,
      at: Date.now(),
      depth: now.depth,
      ...(now.quality && now.quality !== "lossless" && { quality: now.quality }),
    };
    try {
      this.nc.publish(subjects.relay(this.id), encodeFrame(header, pcm, this.keys.privateKey));
      this.frames++;
    } catch {
      // a closed or reconnecting connection: the next frame tries again
    }
  }

  private presence(status: HostPresence["status"]): HostPresence {
    const now = this.player.nowPlaying();
    const live = now && (now.state === "playing" || now.state === "paused");
    return {
      v: 1,
      id: this.id,
      user: this.player.user,
      status,
      state: live ? (now.state as "playing" | "paused") : "idle",
      ...(live ? { song: this.relaySong(now) } : {}),
      position: now ? bytesToSeconds(now.format, now.byte) : 0,
      listeners: this.listeners,
      depth: now?.depth ?? 0,
      intervalMs: this.heartbeatMs,
      at: Date.now(),
    };
  }

  private relaySong(now: NowSong): HostPresence["song"] {
    const { id, title, file, duration } = now.song;
    return { id, title, file, duration };
  }

  private beat(status: HostPresence["status"] = "up"): void {
    if (this.stopped && status === "up") return;
    try {
      if (this.nc.isClosed()) return;
      this.nc.publish(
        subjects.hostPresence(this.id),
        signPresence(this.presence(status), this.keys.privateKey),
      );
      // A paused host's marker stays the newest frame, so a late joiner learns where it is.
      const now = this.player.nowPlaying();
      if (status === "up" && now?.state === "paused" && this.relayed === "paused") {
        this.publish("paused", now, now.byte, new Uint8Array(0));
      }
    } catch {
      // the next beat tries again
    }
  }

  /** Bind our id to our key at the prime (with the user's session); learn our listeners. */
  /** True once the prime has our binding. */
  private async register(): Promise<boolean> {
    const session = this.player.sessionRef();
    if (!session || this.stopped || this.nc.isClosed()) return false;
    try {
      const reply = await call(
        this.nc,
        at(primeHost),
        { session, id: this.id, key: this.keys.publicKey },
        2000,
      );
      this.listeners = reply.listeners;
      return true;
    } catch {
      // no prime right now, or the session is being renewed: the next round tries again
      return false;
    }
  }

  /** Tell joiners we are gone (they carry on from a file node) and stop beating. */
  stop(): void {
    if (this.stopped) return;
    const now = this.player.nowPlaying();
    if (now && this.relayed !== "idle" && this.relayed !== "ended") {
      this.publish("stopped", now, now.byte, new Uint8Array(0));
    }
    this.beat("stopping");
    this.stopped = true;
    this.off?.();
    for (const t of this.timers) clearInterval(t);
  }
}
