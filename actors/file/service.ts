/**
 * The file node's request handlers: the song listing, play, and stream
 * control. Every request carries the user's session; play and songs verify
 * it at its auth node, control checks it is the session that started the
 * stream, and a watcher re-verifies every live stream's session each beat.
 */
import { checkDeliver } from "../runtime/verify-session.js";
import { randomBytes } from "node:crypto";
import type { Actor } from "../runtime/actor.js";
import { ChorusError } from "../../wire/errors.js";
import { at } from "../../wire/contract.js";
import type { Song } from "../../wire/media.js";
import { Catalogue } from "./catalogue.js";
import { findFfmpeg } from "./decode.js";
import { AudioJetStream } from "./jetstream.js";
import { ListenerStream } from "./listener-stream.js";
import {
  endedByNode,
  fileControl,
  filePlay,
  fileRead,
  fileCover,
  fileSongs,
  windowChunks,
  type ControlReply,
  type ControlRequest,
  type EndReason,
  type PlayReply,
  type PlayRequest,
} from "../../wire/file.js";
import { PublishWatch } from "./publish-watch.js";
import { RawReader } from "./raw-read.js";
import { readCover } from "./cover-read.js";
import { RecentlyEnded } from "./recently-ended.js";
import { PublishScheduler } from "./scheduler.js";
import { SessionWatch } from "./session-watch.js";
import { TranscodeCache } from "./transcode-cache.js";
import { isLossy, opusRate } from "../../wire/quality.js";

/**
 * How long a stream the node ended on its own still answers with why: longer
 * than a listener goes on reporting after it (its buffer, a silence check,
 * its retries through a broker restart), with a bound on how many.
 */
const endedKeptMs = 60_000;
const endedKeptMax = 1000;

export class FileService {
  readonly catalogue: Catalogue;
  readonly streams = new Map<string, ListenerStream>();
  private readonly recentlyEnded = new RecentlyEnded<ListenerStream>(endedKeptMs, endedKeptMax);
  private audio!: AudioJetStream;
  private readonly scheduler = new PublishScheduler();
  private sessions!: SessionWatch;
  /** Plays past the capacity check but not yet in `streams`. */
  private opening = 0;
  private readonly publishing: PublishWatch;
  /** Decodes every format but WAV; found once, at start. */
  private readonly ffmpeg = findFfmpeg();
  /** Lossy quality levels: each song encoded once per level (needs ffmpeg). */
  private transcode?: TranscodeCache;
  private raw?: RawReader;

  constructor(private readonly actor: Actor) {
    this.catalogue = new Catalogue(actor.config.music, actor.log, { ffmpeg: this.ffmpeg });
    if (this.ffmpeg) {
      const limit = actor.config.transcodeCacheMb * 1024 * 1024;
      this.transcode = new TranscodeCache(actor.config.data, limit, this.ffmpeg, actor.log);
    }
    this.publishing = new PublishWatch(actor, this.streams, this.scheduler);
  }

  get load(): number {
    return this.streams.size + this.opening + (this.raw?.active ?? 0);
  }

  async start(): Promise<void> {
    const { actor } = this;
    this.audio = await AudioJetStream.open(actor.nc, actor.host);
    // A data folder we cannot write costs the lossy levels, not the node.
    await this.transcode?.start().catch((err: unknown) => {
      actor.log.warn("transcode cache unusable: lossy quality levels are off", {
        error: String(err),
      });
      this.transcode = undefined;
    });
    this.sessions = new SessionWatch(
      actor,
      () => this.streams.values(),
      (stream, why) => void stream.end("session", why),
    );
    actor.setLoad(() => this.load);
    actor.serve(at(fileSongs, actor.id), (req) => this.songs(req));
    actor.serve(at(filePlay, actor.id), (req) => this.play(req));
    actor.serve(at(fileControl, actor.id), (req) => this.control(req));
    // The original file's bytes (the gateway's download and raw stream).
    const raw = new RawReader(this.catalogue, (session) => this.sessions.verify(session));
    this.raw = raw;
    actor.serve(at(fileRead, actor.id), (req) => raw.read(req));
    actor.serve(at(fileCover, actor.id), (req) =>
      readCover(this.catalogue, (session) => this.sessions.verify(session), req),
    );
    this.sessions.start();
    this.publishing.start();
    void this.recoverAfterReconnects();
    actor.onStop(() => this.stopAll());
    if (!this.ffmpeg) {
      actor.log.warn("ffmpeg not found: only WAV songs are listed and played", {
        fix: "apt-get install ffmpeg (npm run setup does it as root on Debian)",
      });
    }
    actor.log.info("file node ready", { music: this.catalogue.folder, ffmpeg: !!this.ffmpeg });
  }

  private async songs(req: { session: PlayRequest["session"] }): Promise<Song[]> {
    await this.sessions.verify(req.session);
    return this.catalogue.list();
  }

  private async play(req: PlayRequest): Promise<PlayReply> {
    const { actor } = this;
    if (actor.isStopping()) throw new ChorusError("UNAVAILABLE", "file node is stopping");
    // Verify the session and find the song at the same time.
    const [verified, song] = await Promise.all([
      this.sessions.verify(req.session),
      this.catalogue.resolve(req.song),
    ]);
    checkDeliver(verified, req.deliver);
    const { user } = verified;
    const from = req.from ?? 0;
    const quality = req.quality ?? "lossless";
    // A lossy stream counts frames of the 48 kHz PCM its Opus decodes to.
    const rate = isLossy(quality) ? opusRate : song.info.sampleRate;
    if (from >= song.info.duration) {
      throw new ChorusError(
        "BAD_REQUEST",
        `from ${from} s is past the end of the song (${song.song.duration} s)`,
      );
    }
    if (this.publishing.overloaded()) {
      throw new ChorusError("NO_ROOM", "file node is overloaded; try another");
    }
    if (!actor.consumeClaim(req.claim) && !actor.hasRoom()) {
      throw new ChorusError("NO_ROOM", "file node is full");
    }
    this.opening++;
    const id = randomBytes(12).toString("base64url");
    try {
      const stream = await ListenerStream.open(
        {
          id,
          session: req.session,
          user,
          song,
          deliver: req.deliver,
          startFrame: Math.floor(from * rate),
          quality,
        },
        {
          audio: this.audio,
          scheduler: this.scheduler,
          hooks: {
            onEnd: (s, reason) => this.ended(s, reason),
            onAck: (ms) => this.publishing.sawAck(ms),
          },
          log: actor.log,
          ffmpeg: this.ffmpeg,
          transcode: this.transcode,
        },
      );
      try {
        await this.audio.openConsumer(id, req.deliver);
      } catch (err) {
        await stream.end("error");
        throw new ChorusError("UNAVAILABLE", "cannot open the audio stream", { cause: err });
      }
      this.streams.set(id, stream);
      stream.pump();
      actor.log.info("stream started", { stream: id, song: song.song.id, user, from, quality });
      return {
        streamId: id,
        song: song.song,
        format: stream.format,
        ...(stream.codec && { codec: stream.codec }),
        frame: stream.head,
        epoch: stream.epoch,
        chunkFrames: stream.chunkFrames,
        windowChunks,
      };
    } finally {
      this.opening--;
      actor.beat();
    }
  }

  private async control(req: ControlRequest): Promise<ControlReply> {
    const stream = this.streams.get(req.streamId) ?? this.recentlyEnded.get(req.streamId);
    if (!stream) throw new ChorusError("NOT_FOUND", "no such stream (it ended or never began)");
    if (!stream.ownedBy(req.session)) {
      throw new ChorusError("FORBIDDEN", "this stream belongs to another session");
    }
    // We ended it: say why (its end marker may still be on the way), change nothing.
    if (stream.ended) return stream.state();
    switch (req.op) {
      case "pause":
        stream.pause();
        break;
      case "resume":
        stream.resume();
        break;
      case "stop":
        await stream.end("stopped");
        break;
      case "position":
        stream.position(req.frame, req.epoch);
        break;
      case "seek": {
        const duration = stream.song.info.duration;
        if (!(req.at >= 0 && req.at < duration)) {
          throw new ChorusError(
            "BAD_REQUEST",
            `seek to ${req.at} s is outside the song (0 to ${stream.song.song.duration} s)`,
          );
        }
        await stream.restartAt(Math.floor(req.at * stream.format.sampleRate));
        break;
      }
      case "rebind":
        await this.rebind(stream, req.to);
        break;
      case "sync":
        if (req.frame >= stream.frames) {
          throw new ChorusError("BAD_REQUEST", "sync frame is past the end of the song");
        }
        await stream.restartAt(req.frame);
        break;
    }
    return stream.state();
  }

  /**
   * The stream's owner (it proved the old session) moves it to a new session:
   * alive at its auth node, the same user, and its connection's inbox the one
   * the stream pushes to. So nobody else can take a stream over.
   */
  private async rebind(stream: ListenerStream, to: PlayRequest["session"]): Promise<void> {
    const verified = await this.sessions.verify(to);
    if (verified.user !== stream.user) {
      throw new ChorusError("FORBIDDEN", "a stream can move only to a session of the same user");
    }
    checkDeliver(verified, stream.deliverSubject);
    if (stream.ended) throw new ChorusError("NOT_FOUND", "no such stream (it ended)");
    stream.rebind(to);
    this.actor.log.info("stream rebound", { stream: stream.id, user: stream.user });
  }

  private ended(stream: ListenerStream, reason: EndReason): void {
    if (this.streams.get(stream.id) === stream) {
      this.streams.delete(stream.id);
      if (endedByNode(reason)) this.recentlyEnded.add(stream.id, stream);
    }
    this.actor.beat();
    if (reason === "error") this.actor.log.warn("stream ended by an error", { stream: stream.id });
  }

  /**
   * A reconnect may follow a broker restart, which empties a memory stream:
   * re-create the stream and every consumer, and publish again from each
   * listener's last reported position (the client drops what it already has).
   */
  private async recoverAfterReconnects(): Promise<void> {
    for await (const s of this.actor.nc.status()) {
      if (s.type !== "reconnect") continue;
      try {
        await this.audio.ensureStream();
        for (const stream of this.streams.values()) await stream.recover();
        this.actor.log.info("streams recovered after reconnect", { streams: this.streams.size });
      } catch (err) {
        this.actor.log.warn("recovery after reconnect failed", { error: String(err) });
      }
    }
  }

  private async stopAll(): Promise<void> {
    this.sessions.stop();
    const live = [...this.streams.values()];
    await Promise.all(live.map((s) => s.end("node-stopping", "the file node is stopping", 50)));
    if (live.length) await new Promise((resolve) => setTimeout(resolve, 100));
    await this.transcode?.close();
  }
}
