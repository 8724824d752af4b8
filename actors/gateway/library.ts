/**
 * The one mapping from the songs file nodes list to Subsonic's artists,
 * albums and ids. Pure: it sees only the song list (wire/media.ts).
 *
 * Ids are stable across restarts and machines: a song keeps the file node's
 * id (from its file name); an artist's id is a hash of its normalised name,
 * an album's of its album artist and title. Songs without tags go under
 * "Unknown Artist" / "Unknown Album"; an album's artist is its albumArtist
 * tag, else the artist of its songs.
 */
import { createHash } from "node:crypto";
import type { Song } from "../../wire/media.js";

export const unknownArtist = "Unknown Artist";
export const unknownAlbum = "Unknown Album";
/** Subsonic's one music folder: every machine's folder holds the same songs (music sync). */
export const musicFolder = { id: 1, name: "Music" } as const;

export interface Artist {
  id: string;
  name: string;
  albums: Album[];
}

export interface Album {
  id: string;
  name: string;
  artist: string;
  artistId: string;
  year?: number;
  genre?: string;
  songs: Song[];
  duration: number;
}

export interface Entry {
  song: Song;
  artist: string;
  artistId: string;
  album: Album;
}

const norm = (text: string): string => text.normalize("NFC").trim().toLowerCase();

function hashId(prefix: string, ...parts: string[]): string {
  const digest = createHash("sha256").update(parts.map(norm).join("\u0000")).digest("base64url");
  return `${prefix}-${digest.slice(0, 16)}`;
}

export const artistIdOf = (name: string): string => hashId("ar", name);
export const albumIdOf = (artist: string, album: string): string => hashId("al", artist, album);

const tag = (text: string | undefined): string | undefined => {
  const trimmed = text?.trim();
  return trimmed ? trimmed : undefined;
};

export class Library {
  readonly songs = new Map<string, Entry>();
  readonly albums = new Map<string, Album>();
  readonly artists = new Map<string, Artist>();
  /** The user's own marks, when known: when they starred an id, and their plays of a song. */
  starred = new Map<string, number>();
  plays = new Map<string, { count: number; last: number }>();

  constructor(list: readonly Song[]) {
    for (const song of list) {
      const artist = tag(song.artist) ?? unknownArtist;
      const albumArtist = tag(song.albumArtist) ?? artist;
      const albumName = tag(song.album) ?? unknownAlbum;
      const albumId = albumIdOf(albumArtist, albumName);
      const albumArtistId = artistIdOf(albumArtist);
      let album = this.albums.get(albumId);
      if (!album) {
        album = {
          id: albumId,
          name: albumName,
          artist: albumArtist,
          artistId: albumArtistId,
          songs: [],
          duration: 0,
        };
        this.albums.set(albumId, album);
        let owner = this.artists.get(albumArtistId);
        if (!owner) {
          owner = { id: albumArtistId, name: albumArtist, albums: [] };
          this.artists.set(albumArtistId, owner);
        }
        owner.albums.push(album);
      }
      album.songs.push(song);
      album.duration += song.duration;
      album.year ??= song.year;
      album.genre ??= tag(song.genre);
      this.songs.set(song.id, { song, artist, artistId: artistIdOf(artist), album });
    }
    for (const album of this.albums.values()) album.songs.sort(byTrack);
    for (const artist of this.artists.values()) artist.albums.sort((a, b) => byName(a, b));
  }

  /** Set the user's marks (a library is built per session, so per user). */
  mark(starred: Map<string, number>, plays: Map<string, { count: number; last: number }>): void {
    this.starred = starred;
    this.plays = plays;
  }

  /** Artists by name, as Subsonic's indexes group them (by first letter, `#` for the rest). */
  indexes(): Array<{ name: string; artists: Artist[] }> {
    const groups = new Map<string, Artist[]>();
    const sorted = [...this.artists.values()].sort(byName);
    for (const artist of sorted) {
      const first = artist.name.normalize("NFD").charAt(0).toUpperCase();
      const key = /[A-Z]/.test(first) ? first : "#";
      groups.set(key, [...(groups.get(key) ?? []), artist]);
    }
    return [...groups].map(([name, artists]) => ({ name, artists }));
  }

  /** Everything whose words all appear in its name (an empty query matches all). */
  search(query: string): { artists: Artist[]; albums: Album[]; songs: Song[] } {
    // Clients that sync send `""` (two quote characters) for "everything".
    const words = norm(query.replace(/^"(.*)"$/, "$1"))
      .split(/\s+/)
      .filter((w) => w && w !== "*");
    const hit = (...texts: Array<string | undefined>): boolean => {
      const haystack = texts.map((t) => norm(t ?? "")).join(" ");
      return words.every((w) => haystack.includes(w));
    };
    return {
      artists: [...this.artists.values()].filter((a) => hit(a.name)).sort(byName),
      albums: [...this.albums.values()].filter((a) => hit(a.name, a.artist)).sort(byName),
      songs: [...this.songs.values()]
        .filter((e) => hit(e.song.title, e.artist, e.album.name, e.album.artist))
        .map((e) => e.song)
        .sort((a, b) => a.title.localeCompare(b.title) || a.id.localeCompare(b.id)),
    };
  }
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name.localeCompare(b.name, undefined, { sensitivity: "base" });
}

function byTrack(a: Song, b: Song): number {
  return (
    (a.disc ?? 0) - (b.disc ?? 0) ||
    (a.track ?? 0) - (b.track ?? 0) ||
    a.title.localeCompare(b.title)
  );
}
