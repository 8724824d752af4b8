/**
 * The methods that keep the user's own data (items.ts): star, unstar,
 * getStarred2, the playlists, and play counts from scrobble.
 */
import { randomBytes } from "node:crypto";
import type { Library } from "./library.js";
import {
  parsed,
  playlistSchema,
  playsSchema,
  starSchema,
  type Playlist,
  type UserItemsClient,
} from "./items.js";
import type { Params } from "./params.js";
import { missing, notFound, type Body } from "./subsonic-response.js";
import type { GatewayUser } from "./users.js";
import { albumView, artistView, songView } from "./views.js";

const iso = (ms: number): string => new Date(ms).toISOString();

export class UserMethods {
  constructor(private readonly items: UserItemsClient) {}

  /** The ids the user starred, with when. */
  async starred(user: GatewayUser): Promise<Map<string, number>> {
    const stars = parsed(await this.items.list(user.session, "star"), starSchema);
    return new Map(stars.map((s) => [s.id, s.value.at]));
  }

  /** Stars and play counts, to mark listings with. */
  async marks(user: GatewayUser): Promise<{
    starred: Map<string, number>;
    plays: Map<string, { count: number; last: number }>;
  }> {
    const [starred, plays] = await Promise.all([
      this.starred(user),
      this.items.list(user.session, "plays"),
    ]);
    return { starred, plays: new Map(parsed(plays, playsSchema).map((p) => [p.id, p.value])) };
  }

  async star(user: GatewayUser, params: Params, on: boolean): Promise<Body> {
    const ids = [...params.all("id"), ...params.all("albumId"), ...params.all("artistId")];
    if (ids.length === 0) throw missing("id");
    const value = on ? { at: Date.now() } : null;
    await this.items.set(
      user.session,
      ids.map((id) => ({ kind: "star" as const, id, value })),
    );
    return {};
  }

  async getStarred2(user: GatewayUser, library: Library): Promise<Body> {
    const stars = await this.starred(user);
    const artist: Body[] = [];
    const album: Body[] = [];
    const song: Body[] = [];
    for (const [id, at] of stars) {
      const a = library.artists.get(id);
      if (a) artist.push({ ...artistView(a), starred: iso(at) });
      const al = library.albums.get(id);
      if (al) album.push({ ...albumView(al), starred: iso(at) });
      const s = library.songs.get(id);
      if (s) song.push({ ...songView(library, s.song), starred: iso(at) });
    }
    return { starred2: { artist, album, song } };
  }

  /** A play: counted per song (scrobble with submission, the default). */
  async scrobble(user: GatewayUser, params: Params): Promise<void> {
    if (params.get("submission") === "false") return;
    const ids = params.all("id");
    const plays = parsed(await this.items.list(user.session, "plays"), playsSchema);
    const counts = new Map(plays.map((p) => [p.id, p.value.count]));
    await this.items.set(
      user.session,
      ids.map((id) => ({
        kind: "plays" as const,
        id,
        value: { count: (counts.get(id) ?? 0) + 1, last: Date.now() },
      })),
    );
  }

  private async playlists(user: GatewayUser): Promise<Map<string, Playlist>> {
    const lists = parsed(await this.items.list(user.session, "playlist"), playlistSchema);
    return new Map(lists.map((p) => [p.id, p.value]));
  }

  private view(user: GatewayUser, id: string, p: Playlist, library: Library): Body {
    const songs = p.songs.filter((s) => library.songs.has(s));
    return {
      id,
      name: p.name,
      comment: p.comment,
      owner: user.name,
      public: p.public ?? false,
      songCount: songs.length,
      duration: Math.round(
        songs.reduce((t, s) => t + (library.songs.get(s)?.song.duration ?? 0), 0),
      ),
      created: iso(p.created),
      changed: iso(p.changed),
    };
  }

  async getPlaylists(user: GatewayUser, library: Library): Promise<Body> {
    const lists = await this.playlists(user);
    return {
      playlists: { playlist: [...lists].map(([id, p]) => this.view(user, id, p, library)) },
    };
  }

  async getPlaylist(user: GatewayUser, library: Library, params: Params): Promise<Body> {
    const id = params.required("id");
    const p = (await this.playlists(user)).get(id);
    if (!p) throw notFound("Playlist");
    const entry = p.songs.flatMap((s) => {
      const found = library.songs.get(s);
      return found ? [songView(library, found.song)] : [];
    });
    return { playlist: { ...this.view(user, id, p, library), entry } };
  }

  /** createPlaylist: a new one with `name`, or (with playlistId) its songs replaced. */
  async createPlaylist(user: GatewayUser, library: Library, params: Params): Promise<Body> {
    const songs = params.all("songId");
    const existing = params.get("playlistId");
    const now = Date.now();
    let id: string;
    let playlist: Playlist;
    if (existing) {
      const p = (await this.playlists(user)).get(existing);
      if (!p) throw notFound("Playlist");
      id = existing;
      playlist = { ...p, name: params.get("name") ?? p.name, songs, changed: now };
    } else {
      id = `pl-${randomBytes(9).toString("base64url")}`;
      playlist = { name: params.required("name"), songs, created: now, changed: now };
    }
    await this.items.set(user.session, [{ kind: "playlist", id, value: playlist }]);
    return this.getPlaylist(user, library, paramsWithId(params, id));
  }

  async updatePlaylist(user: GatewayUser, params: Params): Promise<Body> {
    const id = params.required("playlistId");
    const p = (await this.playlists(user)).get(id);
    if (!p) throw notFound("Playlist");
    const remove = new Set(params.all("songIndexToRemove").map(Number));
    const songs = p.songs.filter((_, i) => !remove.has(i)).concat(params.all("songIdToAdd"));
    const publicFlag = params.get("public");
    const next: Playlist = {
      ...p,
      name: params.get("name") ?? p.name,
      comment: params.get("comment") ?? p.comment,
      public: publicFlag === undefined ? p.public : publicFlag === "true",
      songs,
      changed: Date.now(),
    };
    await this.items.set(user.session, [{ kind: "playlist", id, value: next }]);
    return {};
  }

  async deletePlaylist(user: GatewayUser, params: Params): Promise<Body> {
    const id = params.required("id");
    if (!(await this.playlists(user)).has(id)) throw notFound("Playlist");
    await this.items.set(user.session, [{ kind: "playlist", id, value: null }]);
    return {};
  }
}

/** The same parameters with `id` set (createPlaylist answers as getPlaylist does). */
function paramsWithId(params: Params, id: string): Params {
  return params.with("id", id);
}
