/**
 * A file node as the player's source: client/file-stream.ts speaks the
 * stream protocol and pushes the song's bytes to the player.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { openFileStream } from "./file-stream.js";
import type { SourceContext } from "./player/types.js";
import type { Quality } from "../wire/quality.js";
import type { Deadline } from "./retry.js";
import type { OpenedStream, SongInfo, Source } from "./source.js";
import { findFileNode, listSongs, type ClientSession, type FileNodeRef } from "./stream.js";

/** The cap of each request to a file node; a deadline may leave less. */
const requestMs = 5000;
/** The cap of asking the prime for a node: it may spawn one. */
const assignMs = 20_000;

/** The prime's pick of a file node (it spawns one when all are full). */
export async function findFileSource(ctx: SourceContext, deadline: Deadline): Promise<Source> {
  const node = await findFileNode(ctx.nc, deadline.timeout(assignMs));
  return new FileSource(ctx.nc, ctx.session, node, ctx.quality);
}

class FileSource implements Source {
  readonly id: string;
  readonly label: string;
  /** The slot the prime reserved: spent by the first play. */
  private claim?: string;

  constructor(
    private readonly nc: NatsConnection,
    private readonly session: ClientSession,
    node: FileNodeRef,
    private readonly quality?: Quality,
  ) {
    this.id = node.id;
    this.claim = node.claim;
    this.label = `file node ${node.id}`;
  }

  async songs(deadline: Deadline): Promise<SongInfo[]> {
    const songs = await listSongs(this.nc, this.session, this.id, deadline.timeout(requestMs));
    return songs;
  }

  async open(
    song: string,
    fromSeconds: number,
    deadline: Deadline,
    quality?: Quality,
  ): Promise<OpenedStream> {
    const claim = this.claim;
    this.claim = undefined;
    return openFileStream(this.nc, this.session, this.id, song, {
      from: fromSeconds,
      claim,
      playTimeoutMs: deadline.timeout(requestMs),
      quality: quality ?? this.quality,
    });
  }

  async close(): Promise<void> {}
}
