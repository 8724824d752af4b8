/**
 * The browsing and search methods: each takes the user's library (what
 * their session may list) and the request's parameters, and returns the
 * response body. Unknown ids are error 70.
 */
import type { Song } from "../../wire/media.js";
import { musicFolder, type Album, type Library } from "./library.js";
import type { Params } from "./params.js";
import { notFound, type Body } from "./subsonic-response.js";
import { albumDirectory, albumView, albumWithSongs, artistView, songView } from "./views.js";

const ignoredArticles = "The El La Los Las Le Les";

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

export function getMusicFolders(): Body {
  return { musicFolders: { musicFolder: [{ ...musicFolder }] } };
}

export function getArtists(library: Library): Body {
  return {
    artists: {
      ignoredArticles,
      index: library.indexes().map((group) => ({
        name: group.name,
        artist: group.artists.map((a) => artistView(a, library)),
      })),
    },
  };
}

export function getIndexes(library: Library): Body {
  return {
    indexes: {
      lastModified: 0,
      ignoredArticles,
      index: library.indexes().map((group) => ({
        name: group.name,
        artist: group.artists.map((a) => ({ id: a.id, name: a.name, albumCount: a.albums.length })),
      })),
    },
  };
}

export function getArtist(library: Library, params: Params): Body {
  const artist = library.artists.get(params.required("id"));
  if (!artist) throw notFound("Artist");
  return {
    artist: {
      ...artistView(artist, library),
      album: artist.albums.map((a) => albumView(a, library)),
    },
  };
}

export function getAlbum(library: Library, params: Params): Body {
  const album = library.albums.get(params.required("id"));
  if (!album) throw notFound("Album");
  return { album: albumWithSongs(library, album) };
}

export function getSong(library: Library, params: Params): Body {
  const entry = library.songs.get(params.required("id"));
  if (!entry) throw notFound("Song");
  return { song: songView(library, entry.song) };
}

/** A folder (the music folder, an artist, an album) as getMusicDirectory shows it. */
export function getMusicDirectory(library: Library, params: Params): Body {
  const id = params.required("id");
  if (id === String(musicFolder.id)) {
    return {
      directory: {
        id,
        name: musicFolder.name,
        child: [...library.artists.values()].map((a) => ({
          id: a.id,
          parent: id,
          isDir: true,
          title: a.name,
          artist: a.name,
        })),
      },
    };
  }
  const artist = library.artists.get(id);
  if (artist) {
    return {
      directory: {
        id,
        parent: String(musicFolder.id),
        name: artist.name,
        child: artist.albums.map(albumDirectory),
      },
    };
  }
  const album = library.albums.get(id);
  if (album) {
    return {
      directory: {
        id,
        parent: album.artistId,
        name: album.name,
        child: album.songs.map((s) => songView(library, s)),
      },
    };
  }
  throw notFound("Directory");
}

export function getAlbumList2(library: Library, params: Params): Body {
  const type = params.required("type");
  const size = params.int("size", 10, 0, 500);
  const offset = params.int("offset", 0);
  let albums: Album[] = [...library.albums.values()];
  const byName = (a: Album, b: Album): number => a.name.localeCompare(b.name);
  switch (type) {
    case "random":
      shuffle(albums);
      break;
    case "alphabeticalByArtist":
      albums.sort((a, b) => a.artist.localeCompare(b.artist) || byName(a, b));
      break;
    case "byYear": {
      const from = params.int("fromYear", 0);
      const to = params.int("toYear", 9999);
      const [low, high] = from <= to ? [from, to] : [to, from];
      albums = albums.filter((a) => (a.year ?? 0) >= low && (a.year ?? 0) <= high);
      albums.sort((a, b) => ((a.year ?? 0) - (b.year ?? 0)) * (from <= to ? 1 : -1));
      break;
    }
    case "byGenre": {
      const genre = params.required("genre").toLowerCase();
      albums = albums.filter((a) => a.genre?.toLowerCase() === genre).sort(byName);
      break;
    }
    case "starred":
      albums = albums.filter((a) => library.starred.has(a.id)).sort(byName);
      break;
    default:
      // newest, highest, frequent, recent: no dates or ratings are kept; by name.
      albums.sort(byName);
  }
  return {
    albumList2: { album: albums.slice(offset, offset + size).map((a) => albumView(a, library)) },
  };
}

export function search3(library: Library, params: Params): Body {
  const found = library.search(params.get("query") ?? "");
  const page = <T>(items: T[], count: string, offset: string): T[] => {
    const n = params.int(count, 20, 0, 100_000);
    const at = params.int(offset, 0);
    return items.slice(at, at + n);
  };
  return {
    searchResult3: {
      artist: page(found.artists, "artistCount", "artistOffset").map((a) => artistView(a, library)),
      album: page(found.albums, "albumCount", "albumOffset").map((a) => albumView(a, library)),
      song: page(found.songs, "songCount", "songOffset").map((s: Song) => songView(library, s)),
    },
  };
}

/** The folder-based search of older clients: artists and albums as directories. */
export function search2(library: Library, params: Params): Body {
  const result = search3(library, params).searchResult3 as Body;
  const found = library.search(params.get("query") ?? "");
  const n = params.int("albumCount", 20, 0, 100_000);
  const at = params.int("albumOffset", 0);
  return {
    searchResult2: {
      artist: result.artist,
      album: found.albums.slice(at, at + n).map(albumDirectory),
      song: result.song,
    },
  };
}

/** getAlbumList: getAlbumList2's choice, albums as directories (older clients browse so). */
export function getAlbumList(library: Library, params: Params): Body {
  const list = getAlbumList2(library, params).albumList2 as { album: Body[] };
  const album = list.album.flatMap((a) => {
    const found = library.albums.get(String(a.id));
    return found ? [albumDirectory(found)] : [];
  });
  return { albumList: { album } };
}

export function getRandomSongs(library: Library, params: Params): Body {
  const size = params.int("size", 10, 0, 500);
  const genre = params.get("genre")?.toLowerCase();
  const from = params.number("fromYear");
  const to = params.number("toYear");
  const songs = [...library.songs.values()]
    .map((e) => e.song)
    .filter((s) => !genre || s.genre?.toLowerCase() === genre)
    .filter((s) => from === undefined || (s.year ?? 0) >= from)
    .filter((s) => to === undefined || (s.year ?? 0) <= to);
  return {
    randomSongs: {
      song: shuffle(songs)
        .slice(0, size)
        .map((s) => songView(library, s)),
    },
  };
}
