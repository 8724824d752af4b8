/**
 * The gateway's way to file nodes, as a player's: the prime names a file
 * node, the song list and every byte come from it with the user's session.
 * A node that went away is forgotten and the prime asked again.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { findFileNode, listSongs, play, type ChunkReader } from "../../client/stream.js";
import { at } from "../../wire/contract.js";
import { ChorusError } from "../../wire/errors.js";
import {
  fileCover,
  fileRead,
  readMaxBytes,
  type CoverReply,
  type ReadReply,
} from "../../wire/file.js";
import type { Song } from "../../wire/media.js";
import { call } from "../runtime/endpoint.js";
import type { UserSession } from "../../client/auth.js";
import { Library } from "./library.js";

/** A listing is reused this long per session: a client paging through search3 asks often. */
const listingMs = 2000;
const requestMs = 5000;

/** Errors after which another node may answer. */
const gone = new Set(["UNAVAILABLE", "TIMEOUT", "NO_ROOM"]);

export class FileNodes {
  private node?: Promise<string>;
  /** The slot the prime reserved when it named the node: the next play uses it. */
  private claim?: string;
  private readonly listings = new WeakMap<UserSession, { at: number; library: Promise<Library> }>();

  constructor(private readonly nc: NatsConnection) {}

  /** The library as this session may see it. */
  library(session: UserSession): Promise<Library> {
    const cached = this.listings.get(session);
    if (cached && Date.now() - cached.at < listingMs) return cached.library;
    const library = this.withNode((node) => listSongs(this.nc, session, node, requestMs)).then(
      (songs: Song[]) => new Library(songs),
    );
    this.listings.set(session, { at: Date.now(), library });
    library.catch(() => this.listings.delete(session));
    return library;
  }

  /** Bytes of the song's original file (at most readMaxBytes). */
  read(session: UserSession, song: string, offset: number, length: number): Promise<ReadReply> {
    const request = {
      session: { ...session.credentials(), authNode: session.authNode },
      song,
      offset,
      length: Math.min(readMaxBytes, Math.max(1, length)),
    };
    return this.withNode((node) => call(this.nc, at(fileRead, node), request, requestMs));
  }

  /** The song's embedded cover art (NOT_FOUND: it has none). */
  cover(session: UserSession, song: string): Promise<CoverReply> {
    const request = { session: { ...session.credentials(), authNode: session.authNode }, song };
    return this.withNode((node) => call(this.nc, at(fileCover, node), request, requestMs));
  }

  /** The file node's play stream of the song, from `from` seconds. */
  play(session: UserSession, song: string, from: number): Promise<ChunkReader> {
    return this.withNode((id) => {
      const claim = this.claim;
      this.claim = undefined;
      return play(this.nc, session, song, {
        node: { id, claim },
        from: from > 0 ? from : undefined,
      });
    });
  }

  /** Run `work` at the current file node; once more at another if that one is gone. */
  private async withNode<T>(work: (node: string) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const pick = (this.node ??= findFileNode(this.nc).then((ref) => {
        this.claim = ref.claim;
        return ref.id;
      }));
      let node: string;
      try {
        node = await pick;
      } catch (err) {
        if (this.node === pick) this.node = undefined;
        throw err;
      }
      try {
        return await work(node);
      } catch (err) {
        const retry = err instanceof ChorusError && gone.has(err.code) && attempt === 0;
        if (err instanceof ChorusError && gone.has(err.code) && this.node === pick) {
          this.node = undefined;
        }
        if (!retry) throw err;
      }
    }
  }
}
