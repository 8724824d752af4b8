/**
 * Joining: a P2P host as the player's Source. The prime checks our session
 * and opens a relay consumer that starts a little before the host's newest
 * frame, so we start where the host is with a small buffer. Every frame's
 * signature, shape and order are checked (anything else is skipped, never
 * played); the host's jumps, song changes and pauses are passed on to the
 * player. When the host goes away — its "stopped" frame, a "stopping" beat,
 * missed beats, or silence while it says it plays — the stream ends as a
 * lost node does, and the player carries on from a file node at that point.
 */
import type { Quality } from "../../wire/quality.js";
import { at } from "../../wire/contract.js";
import { primeJoin } from "../../wire/p2p.js";
import { type Msg, type Subscription } from "@nats-io/transport-node";
import { randomBytes, type KeyObject } from "node:crypto";
import { call } from "../../actors/runtime/endpoint.js";
import { ChorusError } from "../../wire/errors.js";
import {
  decodeFrame,
  publicKeyOf,
  readPresence,
  type JoinReply,
  type RelayHeader,
} from "../../wire/p2p.js";
import { subjects } from "../../wire/subjects.js";
import { bytesPerSecond, frameBytes, type PcmFormat } from "../audio/format.js";
import type { UserSession } from "../auth.js";
import type { SourceContext } from "../player/types.js";
import type { Deadline } from "../retry.js";
import type { OpenedStream, SongInfo, Source, StreamListener } from "../source.js";
import { findFileNode, listSongs } from "../stream.js";

/** Audio buffered before a joiner plays; the host writes 40 ms ahead of its clock. */
export const joinBacklogMs = 60;
/** The jitter settings of a joined stream: start (and restart) with the backlog. */
export const joinJitter = { startMs: joinBacklogMs, rebufferMs: joinBacklogMs };
/** No frame for this long while the host says it plays: it is gone. */
const silenceMs = 600;
/** Behind the newest frame by more than this: skip ahead (a slow joiner catches up). */
export const catchUpMs = 250;
/** Caps of the join, of finding a node (it may be spawned), of the catalogue; a deadline may cut them. */
const joinMs = 5000;
const assignMs = 20_000;
const songsMs = 5000;

export interface JoinStats {
  /** Frames skipped: bad signature, malformed, another host's, out of order, stale. */
  rejected: number;
  accepted: number;
  /** Times we skipped ahead because we had fallen behind. */
  catchUps: number;
}

export class HostSource implements Source {
  id: string;
  label: string;

  constructor(
    private readonly ctx: SourceContext,
    private readonly wanted: string,
  ) {
    this.id = wanted;
    this.label = `host ${wanted} (P2P)`;
  }

  /** A host has no catalogue: the prime's pick of a file node answers. */
  async songs(deadline: Deadline): Promise<SongInfo[]> {
    const { nc, session } = this.ctx;
    const node = await findFileNode(nc, deadline.timeout(assignMs));
    const songs = await listSongs(nc, sessionOf(session), node.id, deadline.timeout(songsMs));
    return songs;
  }

  /** Join the host at the point it is at (the song and position are the host's). */
  async open(_song: string, _from: number, deadline: Deadline): Promise<HostStream> {
    const stream = new HostStream(this.ctx, this.wanted);
    await stream.join(deadline.timeout(joinMs));
    this.id = stream.hostId;
    this.label = `host ${stream.hostId} (${stream.user}, P2P)`;
    return stream;
  }

  async close(): Promise<void> {}
}

function sessionOf(session: UserSession): { authNode: string; sessionId: string; token: string } {
  return { authNode: session.authNode, ...session.credentials() };
}

function songOf(header: RelayHeader): { song: SongInfo; format: PcmFormat } {
  return { song: { ...header.song, format: header.format }, format: header.format };
}

function sameFormat(a: PcmFormat, b: PcmFormat): boolean {
  return (
    a.sampleRate === b.sampleRate &&
    a.channels === b.channels &&
    a.bitDepth === b.bitDepth &&
    Boolean(a.float) === Boolean(b.float)
  );
}

export class HostStream implements OpenedStream {
  readonly id = randomBytes(9).toString("base64url");
  hostId: string;
  user = "";
  song!: SongInfo;
  format!: PcmFormat;
  /** The host's level, as its last frame said. */
  quality?: Quality;
  startByte = 0;
  readonly stats: JoinStats = { rejected: 0, accepted: 0, catchUps: 0 };

  private listener?: StreamListener;
  private key?: KeyObject;
  private intervalMs = 1000;
  private relaySub?: Subscription;
  private beatSub?: Subscription;
  private watchdog?: NodeJS.Timeout;
  /** Frames that came before the join reply (or before a listener): checked once both are here. */
  private early: Msg[] = [];
  private joined = false;
  /** The host's chain depth, as its last frame said. */
  private hostDepth = 0;
  /** The host's epoch: it bumps it on every jump. */
  private hostEpoch = -1;
  private lastSeq = -1;
  /** The next byte we expect in this epoch. */
  private expected = 0;
  private hostPaused = false;
  /** The listener paused: we left the host, and rejoin on resume. */
  private left = false;
  private ended = false;
  /** Why the host is gone, once it is (told to the listener once). */
  private goneWhy?: string;
  private goneTold = false;
  private lastFrameAt = 0;
  private lastBeatAt = 0;
  private lastCheckAt = 0;

  constructor(
    private readonly ctx: SourceContext,
    private readonly wanted: string,
  ) {
    this.hostId = wanted;
  }

  /** One hop more than the host's. */
  get depth(): number {
    return this.hostDepth + 1;
  }

  /** The host is paused (the player waits for it). */
  get held(): boolean {
    return this.hostPaused;
  }

  listen(listener: StreamListener): void {
    this.listener = listener;
    this.lastFrameAt = Date.now();
    if (this.goneWhy !== undefined) this.tellGone();
    if (this.joined) this.flushEarly();
  }

  /**
   * Ask the prime to open our relay consumer, and set the starting point.
   * A rejoin (after a pause) tells the listener where the host is now.
   */
  async join(timeoutMs = joinMs): Promise<void> {
    const { nc } = this.ctx;
    const before = this.song;
    const deliver = this.ctx.session.newInbox();
    this.joined = false;
    this.early = [];
    const sub = nc.subscribe(deliver, {
      callback: (err, msg) => {
        if (!err) this.onMessage(msg);
      },
    });
    let reply: JoinReply;
    try {
      reply = await call(
        nc,
        at(primeJoin),
        {
          session: sessionOf(this.ctx.session),
          host: this.wanted,
          deliver,
          backlogMs: joinBacklogMs,
        },
        timeoutMs,
      );
    } catch (err) {
      sub.unsubscribe();
      throw err;
    }
    const last = reply.last;
    if (!last || last.state === "stopped" || last.state === "ended") {
      sub.unsubscribe();
      throw new ChorusError(
        "NOT_FOUND",
        last
          ? `host ${reply.host.id} has stopped playing`
          : `host ${reply.host.id} has not played anything yet`,
      );
    }
    this.relaySub?.unsubscribe();
    this.relaySub = sub;
    this.key = publicKeyOf(reply.key);
    this.hostId = reply.host.id;
    this.user = reply.host.user;
    this.hostDepth = last.depth;
    this.intervalMs = reply.intervalMs;
    const { song, format } = songOf(last);
    this.song = song;
    this.format = format;
    this.quality = last.quality;
    this.hostEpoch = last.epoch;
    this.lastSeq = -1;
    const frame = frameBytes(format);
    // The host played on while the prime worked: start from the newest frame we already have.
    let end = reply.lastEnd ?? last.byte;
    for (const msg of this.early) {
      const f = decodeFrame(msg.data, this.key);
      if (f.ok && f.header.epoch === last.epoch && f.header.state === "playing") {
        end = Math.max(end, f.header.byte + f.pcm.length);
      }
    }
    const back = Math.floor(((joinBacklogMs / 1000) * bytesPerSecond(format)) / frame) * frame;
    this.expected = last.state === "paused" ? last.byte : Math.max(0, end - back);
    this.startByte = this.expected;
    this.hostPaused = last.state === "paused";
    this.lastFrameAt = this.lastBeatAt = Date.now();
    this.watchBeats();
    this.joined = true;
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => this.check(), 50);
    this.watchdog.unref();
    if (before && this.listener) {
      // Where the host is now comes before its frames.
      const changed = before.id !== song.id;
      this.listener.moved(this.startByte, changed ? song : undefined);
      if (this.hostPaused) this.listener.paused(true);
    }
    this.flushEarly();
  }

  private flushEarly(): void {
    if (!this.listener) return;
    for (const msg of this.early.splice(0)) this.onMessage(msg);
  }

  private watchBeats(): void {
    if (this.beatSub) return;
    this.beatSub = this.ctx.nc.subscribe(subjects.hostPresence(this.hostId), {
      callback: (err, msg) => {
        if (err || !this.key) return;
        const presence = readPresence(msg.data, this.key);
        if (!presence || presence.id !== this.hostId) return;
        this.lastBeatAt = Date.now();
        this.intervalMs = presence.intervalMs;
        if (presence.status === "stopping") this.gone(`host ${this.hostId} left`);
      },
    });
  }

  private onMessage(msg: Msg): void {
    try {
      if (msg.headers && msg.headers.code === 100) {
        // Flow control, or an idle heartbeat asking for it.
        if (msg.reply) msg.respond();
        const stalled = msg.headers.get("Nats-Consumer-Stalled");
        if (stalled) this.ctx.nc.publish(stalled);
        return;
      }
      if (msg.data.length === 0 || this.ended) return;
      if (!this.joined || !this.listener) {
        if (this.early.length < 1000) this.early.push(msg);
        return;
      }
      this.accept(msg.data);
    } catch {
      this.stats.rejected++;
    }
  }

  private accept(data: Uint8Array): void {
    const frame = decodeFrame(data, this.key);
    if (!frame.ok || frame.header.host !== this.hostId) {
      this.stats.rejected++;
      return;
    }
    const h = frame.header;
    if (h.seq <= this.lastSeq || h.epoch < this.hostEpoch) {
      this.stats.rejected++; // out of order, replayed, or from before a jump
      return;
    }
    const { song, format } = songOf(h);
    const newSong = h.song.id !== this.song.id || !sameFormat(format, this.format);
    if (h.epoch === this.hostEpoch && newSong) {
      this.stats.rejected++; // a song change without a jump: not a frame the host made
      return;
    }
    this.lastSeq = h.seq;
    this.lastFrameAt = Date.now();
    this.hostDepth = h.depth;
    this.quality = h.quality;
    if (h.state === "stopped") {
      this.gone(`host ${this.hostId} stopped playing`);
      return;
    }
    if (h.epoch > this.hostEpoch) {
      this.hostEpoch = h.epoch;
      this.jump(h.byte, newSong ? { song, format } : undefined);
    }
    if (h.state === "paused") {
      this.setPaused(true);
      return;
    }
    if (h.state === "ended") {
      this.listener?.end("eos");
      return;
    }
    this.setPaused(false);
    const end = h.byte + frame.pcm.length;
    if (end <= this.expected) return;
    // A frame may start before what we have (the relay backlog): the receiver trims it.
    // One after a hole (we were slow and missed some): the jitter buffer steps over it.
    this.expected = end;
    this.stats.accepted++;
    // After a song change (jump) this is the listener of the new song.
    this.listener?.chunk(h.byte, frame.pcm);
  }

  /** Start over at `byte` (the host seeked or changed songs, or we catch up). */
  private jump(byte: number, change?: { song: SongInfo; format: PcmFormat }): void {
    if (change) {
      this.song = change.song;
      this.format = change.format;
    }
    this.expected = byte;
    this.startByte = byte;
    this.listener?.moved(byte, change?.song);
  }

  private setPaused(paused: boolean): void {
    if (paused === this.hostPaused) return;
    this.hostPaused = paused;
    this.lastFrameAt = Date.now();
    this.listener?.paused(paused);
  }

  private check(): void {
    if (this.ended || this.left || !this.joined || !this.listener) return;
    const now = Date.now();
    if (now - this.lastCheckAt > 250) {
      // We were frozen ourselves (a stopped process, a long GC): judge the host next time.
      this.lastCheckAt = this.lastBeatAt = this.lastFrameAt = now;
      return;
    }
    this.lastCheckAt = now;
    if (now - this.lastBeatAt > this.ctx.config.missedBeats * this.intervalMs) {
      this.gone(`host ${this.hostId} stopped beating`);
    } else if (!this.hostPaused && now - this.lastFrameAt > silenceMs) {
      this.gone(`no audio from host ${this.hostId}`);
    }
  }

  /** The host is gone: end the stream like a lost node (the player carries on elsewhere). */
  private gone(why: string): void {
    if (this.ended) return;
    this.close();
    this.goneWhy = why;
    this.tellGone();
  }

  private tellGone(): void {
    if (this.goneTold || !this.listener) return;
    this.goneTold = true;
    this.listener.end("node-stopping", this.goneWhy);
  }

  private close(): void {
    this.ended = true;
    clearInterval(this.watchdog);
    this.relaySub?.unsubscribe();
    this.beatSub?.unsubscribe();
    this.beatSub = undefined;
  }

  /** The listener pauses: leave the host (its consumer lapses); resume rejoins. */
  async pause(): Promise<void> {
    this.left = true;
    this.relaySub?.unsubscribe();
    this.relaySub = undefined;
  }

  /** Rejoin at the host's point now (it may have moved on, or changed songs). */
  async resume(): Promise<void> {
    if (!this.left || this.ended) return;
    await this.join();
    this.left = false;
  }

  async seek(): Promise<void> {
    throw new ChorusError(
      "BAD_REQUEST",
      `you follow host ${this.hostId}: play the song yourself to seek in it`,
    );
  }

  /** Where playback is: far behind the newest frame means we were slow — skip ahead. */
  position(byte: number): void {
    if (this.ended || this.left || this.hostPaused) return;
    const behindMs = ((this.expected - byte) / bytesPerSecond(this.format)) * 1000;
    if (behindMs > catchUpMs) {
      this.stats.catchUps++;
      this.jump(this.expected);
    }
  }

  async stop(): Promise<void> {
    this.close();
  }
}
