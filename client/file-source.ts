/**
 * A file node as the player's source: client/stream.ts speaks the protocol;
 * this adapts its Playback to the player's Source interface.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { PcmFormat } from "./audio/format.js";
import type { SourceContext } from "./player.js";
import type { OpenedStream, SongInfo, Source, StreamHandlers, StreamPoint } from "./source.js";
import {
  findFileNode,
  listSongs,
  play,
  type FileNodeRef,
  type Playback,
  type Session,
  type Song,
} from "./stream.js";

/** The prime's pick of a file node (it spawns one when all are full). */
export async function findFileSource(ctx: SourceContext): Promise<Source> {
  const node = await findFileNode(ctx.nc);
  return new FileSource(ctx.nc, sessionOf(ctx), node);
}

function sessionOf(ctx: SourceContext): Session {
  const { sessionId, token } = ctx.session.credentials();
  return { authNode: ctx.session.authNode, sessionId, token };
}

class FileSource implements Source {
  readonly kind = "file" as const;
  readonly id: string;
  readonly label: string;
  /** The slot the prime reserved: spent by the first play. */
  private claim?: string;

  constructor(
    private readonly nc: NatsConnection,
    private readonly session: Session,
    node: FileNodeRef,
  ) {
    this.id = node.id;
    this.claim = node.claim;
    this.label = `file node ${node.id}`;
  }

  async songs(): Promise<SongInfo[]> {
    return (await listSongs(this.nc, this.session, this.id)).map(songInfo);
  }

  async open(song: string, fromSeconds: number, handlers: StreamHandlers): Promise<OpenedStream> {
    const node: FileNodeRef = { id: this.id, claim: this.claim };
    this.claim = undefined;
    const playback = await play(this.nc, this.session, song, {
      node,
      from: fromSeconds,
      manualPosition: true,
    });
    return new FileStream(playback, handlers);
  }

  async close(): Promise<void> {}
}

class FileStream implements OpenedStream {
  readonly id: string;
  readonly song: SongInfo;
  readonly format: PcmFormat;
  readonly start: StreamPoint;
  private readonly blockAlign: number;
  /** Ours, not the node's: bumped by each seek, so the player can drop what came before. */
  private epoch = 0;

  constructor(
    private readonly playback: Playback,
    handlers: StreamHandlers,
  ) {
    const { song, format } = playback;
    this.id = playback.streamId;
    this.song = { id: song.id, title: song.title, file: song.file, duration: song.duration };
    this.format = {
      sampleRate: format.sampleRate,
      channels: format.channels,
      bitDepth: format.bitDepth,
    };
    this.blockAlign = format.blockAlign;
    this.start = { epoch: 0, byte: this.byteAt(playback.position) };
    void this.pump(handlers);
  }

  private byteAt(seconds: number): number {
    return Math.round(seconds * this.format.sampleRate) * this.blockAlign;
  }

  /** Chunks in order (stream.ts drops stale and repeated ones), then the end. */
  private async pump(handlers: StreamHandlers): Promise<void> {
    try {
      for await (const chunk of this.playback) {
        handlers.chunk({ stream: this.id, epoch: this.epoch, byte: chunk.byte, pcm: chunk.data });
      }
      const end = await this.playback.ended;
      handlers.end(this.id, end.reason, end.message);
    } catch (err) {
      handlers.end(this.id, "error", err instanceof Error ? err.message : String(err));
    }
  }

  pause(): Promise<void> {
    return this.playback.pause();
  }

  resume(): Promise<void> {
    return this.playback.resume();
  }

  async seek(seconds: number): Promise<StreamPoint> {
    // stream.ts drops every chunk queued before the seek at once: what is yielded next is new.
    this.epoch++;
    await this.playback.seek(seconds);
    return { epoch: this.epoch, byte: this.byteAt(this.playback.position) };
  }

  position(byte: number): void {
    this.playback.played(Math.floor(byte / this.blockAlign));
  }

  stop(): Promise<void> {
    return this.playback.stop();
  }
}

/** A file node's catalogue entry as the player shows it. */
export function songInfo(s: Song): SongInfo {
  return {
    id: s.id,
    title: s.title,
    ...(s.artist ? { artist: s.artist } : {}),
    ...(s.album ? { album: s.album } : {}),
    ...(s.track ? { track: s.track } : {}),
    file: s.file,
    duration: s.duration,
    format: s.format,
  };
}
