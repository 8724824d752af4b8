/**
 * Library entries as the OpenSubsonic schema names them: a song as a
 * `Child`, an album as `AlbumID3` (or a directory `Child`), an artist as
 * `ArtistID3`. Only this module knows those field names.
 */
import type { Song } from "../../wire/media.js";
import type { Album, Artist, Library } from "./library.js";
import type { Body } from "./subsonic-response.js";

const contentTypes: Record<string, string> = {
  wav: "audio/wav",
  flac: "audio/flac",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  opus: "audio/ogg",
  m4a: "audio/mp4",
};

/** The file's container, from the song or its file name. */
export function suffixOf(song: Song): string {
  return (song.container ?? /\.([A-Za-z0-9]+)$/.exec(song.file)?.[1] ?? "wav").toLowerCase();
}

export function contentTypeOf(song: Song): string {
  return contentTypes[suffixOf(song)] ?? "application/octet-stream";
}

/** The original file's size: the file node says it; a WAV without that is its PCM plus a header. */
export function fileSizeOf(song: Song): number {
  return song.fileBytes ?? song.bytes + 44;
}

/** No modification times travel with songs: one fixed date keeps responses stable. */
const created = new Date(0).toISOString();

const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

export function songView(library: Library, song: Song): Body {
  const entry = library.songs.get(song.id);
  const { sampleRate, channels, bitDepth } = song.format;
  const seconds = Math.max(1, song.duration);
  return {
    id: song.id,
    parent: entry?.album.id,
    isDir: false,
    title: song.title,
    album: entry?.album.name,
    artist: entry?.artist,
    track: song.track,
    year: song.year,
    genre: song.genre,
    coverArt: entry?.album.id,
    size: fileSizeOf(song),
    contentType: contentTypeOf(song),
    suffix: suffixOf(song),
    duration: Math.round(song.duration),
    bitRate: Math.round((fileSizeOf(song) * 8) / seconds / 1000),
    path: `${entry?.album.artist ?? ""}/${entry?.album.name ?? ""}/${song.file}`,
    discNumber: song.disc,
    created,
    albumId: entry?.album.id,
    artistId: entry?.artistId,
    type: "music",
    mediaType: "song",
    isVideo: false,
    bitDepth,
    samplingRate: sampleRate,
    channelCount: channels,
    starred: iso(library.starred.get(song.id)),
    playCount: library.plays.get(song.id)?.count,
    played: iso(library.plays.get(song.id)?.last),
  };
}

export function albumView(album: Album, library?: Library): Body {
  return {
    starred: iso(library?.starred.get(album.id)),
    id: album.id,
    name: album.name,
    artist: album.artist,
    artistId: album.artistId,
    coverArt: album.id,
    songCount: album.songs.length,
    duration: Math.round(album.duration),
    created,
    year: album.year,
    genre: album.genre,
  };
}

export function albumWithSongs(library: Library, album: Album): Body {
  return { ...albumView(album, library), song: album.songs.map((s) => songView(library, s)) };
}

export function artistView(artist: Artist, library?: Library): Body {
  return {
    starred: iso(library?.starred.get(artist.id)),
    id: artist.id,
    name: artist.name,
    coverArt: artist.id,
    albumCount: artist.albums.length,
  };
}

/** An album as a folder of getMusicDirectory. */
export function albumDirectory(album: Album): Body {
  return {
    id: album.id,
    parent: album.artistId,
    isDir: true,
    title: album.name,
    album: album.name,
    artist: album.artist,
    year: album.year,
    genre: album.genre,
    coverArt: album.id,
    created,
  };
}
