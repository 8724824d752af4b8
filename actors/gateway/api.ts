/**
 * The OpenSubsonic methods this gateway answers, by name: which need a
 * login, and what each does. The HTTP layer (http.ts) parses and renders;
 * browsing lives in browse.ts, streaming in stream.ts.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../runtime/log.js";
import { ChorusError } from "../../wire/errors.js";
import * as browse from "./browse.js";
import { placeholderCover } from "./cover.js";
import type { FileNodes } from "./files.js";
import type { Library } from "./library.js";
import type { Song } from "../../wire/media.js";
import { credentialsOf, type Params } from "./params.js";
import { sendRaw, sendWav, sendWavHead } from "./stream.js";
import { ErrorCode, notFound, SubsonicError, type Body } from "./subsonic-response.js";
import type { GatewayUser, GatewayUsers } from "./users.js";
import { songView } from "./views.js";
import { UserItemsClient } from "./items.js";
import { UserMethods } from "./user-methods.js";

export interface Call {
  params: Params;
  req: IncomingMessage;
  res: ServerResponse;
}

/** A body to render, or `sent` when the method wrote the HTTP response itself. */
export type Outcome = Body | "sent";

interface Method {
  /** `optional`: checked when given (so a client can test its login with ping), else answered anyway. */
  auth: "required" | "optional" | "none";
  run(call: Call, user: GatewayUser | undefined): Promise<Outcome> | Outcome;
}

export const extensions = [
  { name: "apiKeyAuthentication", versions: [1] },
  { name: "formPost", versions: [1] },
];

/** Who is listening to what now (getNowPlaying): kept by this gateway, per user. */
interface Playing {
  user: string;
  songId: string;
  since: number;
}

export class SubsonicApi {
  private readonly playing = new Map<string, Playing>();
  private readonly methods: Record<string, Method>;
  private readonly mine: UserMethods;

  constructor(
    private readonly users: GatewayUsers,
    private readonly files: FileNodes,
    items: UserItemsClient,
    private readonly log: Logger,
  ) {
    const mine = new UserMethods(items);
    this.mine = mine;
    /** A method on the user's own data, with their library. */
    const own = (
      run: (user: GatewayUser, library: Library, params: Params) => Promise<Body>,
    ): Method => ({
      auth: "required",
      run: async (call, user) => {
        const u = this.must(user);
        return run(u, await lib(u), call.params);
      },
    });
    /** The user's library, with their stars and plays marked. */
    const lib = async (user: GatewayUser | undefined): Promise<Library> => {
      const u = this.must(user);
      const [library, marks] = await Promise.all([this.files.library(u.session), mine.marks(u)]);
      library.mark(marks.starred, marks.plays);
      return library;
    };
    const withLibrary =
      (run: (library: Library, params: Params) => Body): Method["run"] =>
      async (call, user) =>
        run(await lib(user), call.params);
    this.methods = {
      ping: { auth: "optional", run: () => ({}) },
      getLicense: {
        auth: "optional",
        run: () => ({ license: { valid: true, email: "", licenseExpires: undefined } }),
      },
      getOpenSubsonicExtensions: {
        auth: "none",
        run: () => ({ openSubsonicExtensions: extensions }),
      },
      getMusicFolders: { auth: "required", run: () => browse.getMusicFolders() },
      getArtists: { auth: "required", run: withLibrary((l) => browse.getArtists(l)) },
      getIndexes: { auth: "required", run: withLibrary((l) => browse.getIndexes(l)) },
      getArtist: { auth: "required", run: withLibrary(browse.getArtist) },
      getAlbum: { auth: "required", run: withLibrary(browse.getAlbum) },
      getSong: { auth: "required", run: withLibrary(browse.getSong) },
      getMusicDirectory: { auth: "required", run: withLibrary(browse.getMusicDirectory) },
      getAlbumList2: { auth: "required", run: withLibrary(browse.getAlbumList2) },
      star: own((u, _l, p) => mine.star(u, p, true)),
      unstar: own((u, _l, p) => mine.star(u, p, false)),
      getStarred2: own((u, l) => mine.getStarred2(u, l)),
      getPlaylists: own((u, l) => mine.getPlaylists(u, l)),
      getPlaylist: own((u, l, p) => mine.getPlaylist(u, l, p)),
      createPlaylist: own((u, l, p) => mine.createPlaylist(u, l, p)),
      updatePlaylist: own((u, _l, p) => mine.updatePlaylist(u, p)),
      deletePlaylist: own((u, _l, p) => mine.deletePlaylist(u, p)),
      search3: { auth: "required", run: withLibrary(browse.search3) },
      search2: { auth: "required", run: withLibrary(browse.search2) },
      getAlbumList: { auth: "required", run: withLibrary(browse.getAlbumList) },
      getRandomSongs: { auth: "required", run: withLibrary(browse.getRandomSongs) },
      getGenres: { auth: "required", run: withLibrary(genres) },
      getUser: { auth: "required", run: (call, user) => this.getUser(call, this.must(user)) },
      stream: { auth: "required", run: (call, user) => this.stream(call, this.must(user), false) },
      download: { auth: "required", run: (call, user) => this.stream(call, this.must(user), true) },
      getCoverArt: {
        auth: "required",
        run: async (call, user) => this.coverArt(call, this.must(user)),
      },
      scrobble: {
        auth: "required",
        run: async (call, user) => {
          const u = this.must(user);
          await this.mine.scrobble(u, call.params);
          return this.scrobble(call, u);
        },
      },
      getNowPlaying: { auth: "required", run: withLibrary((l) => this.nowPlaying(l)) },
    };
  }

  /**
   * getCoverArt: the embedded art of the first song that has some (as the
   * file holds it: `size` is not applied), else a generated placeholder.
   */
  private async coverArt(call: Call, user: GatewayUser): Promise<Outcome> {
    const id = call.params.required("id");
    const library = await this.files.library(user.session);
    const song = songsFor(library, id).find((s) => s.cover);
    const art = song
      ? await this.files.cover(user.session, song.id).catch((err: unknown) => {
          this.log.debug("no embedded cover", { song: song.id, error: String(err) });
          return undefined;
        })
      : undefined;
    const [type, image] = art
      ? [art.mime, Buffer.from(art.data, "base64")]
      : ["image/png", placeholderCover(id, call.params.int("size", 300, 16, 1024))];
    call.res.writeHead(200, {
      "Content-Type": type,
      "Content-Length": image.length,
      "Cache-Control": "public, max-age=86400",
    });
    call.res.end(image);
    return "sent";
  }

  async call(method: string, call: Call): Promise<Outcome> {
    const entry = Object.hasOwn(this.methods, method) ? this.methods[method] : undefined;
    if (!entry) throw notFound(`Method ${method}`);
    let user: GatewayUser | undefined;
    const given = ["u", "apiKey", "p", "t"].some((k) => call.params.get(k) !== undefined);
    if (entry.auth === "required" || (entry.auth === "optional" && given)) {
      user = await this.users.authenticate(credentialsOf(call.params), clientOf(call.req));
    }
    try {
      return await entry.run(call, user);
    } catch (err) {
      // The session died before its heartbeats told us (its auth node is gone):
      // log in again with the request's credentials, and try once more.
      const gone = err instanceof ChorusError && err.code === "UNAUTHORIZED";
      if (!user || !gone || call.res.headersSent) throw err;
      this.users.forget(user);
      return entry.run(
        call,
        await this.users.authenticate(credentialsOf(call.params), clientOf(call.req)),
      );
    }
  }

  private must(user: GatewayUser | undefined): GatewayUser {
    if (!user) throw new SubsonicError(ErrorCode.notAuthorized, "not logged in");
    return user;
  }

  private getUser(call: Call, user: GatewayUser): Body {
    const name = call.params.required("username");
    if (name.normalize("NFC").toLowerCase() !== user.name.normalize("NFC").toLowerCase()) {
      throw new SubsonicError(ErrorCode.notAuthorized, "a user may only see their own account");
    }
    return {
      user: {
        username: user.name,
        scrobblingEnabled: true,
        adminRole: false,
        settingsRole: false,
        downloadRole: true,
        uploadRole: false,
        playlistRole: false,
        coverArtRole: true,
        commentRole: false,
        podcastRole: false,
        streamRole: true,
        jukeboxRole: false,
        shareRole: false,
        videoConversionRole: false,
        folder: [1],
      },
    };
  }

  private async stream(call: Call, user: GatewayUser, download: boolean): Promise<Outcome> {
    const { params, req, res } = call;
    const id = params.required("id");
    const library = await this.files.library(user.session);
    const entry = library.songs.get(id);
    if (!entry) throw notFound("Song");
    const raw = download || params.get("format") === "raw";
    const relogin = (): Promise<GatewayUser> =>
      this.users.authenticate(credentialsOf(params), clientOf(req));
    user.busy++;
    try {
      if (raw) {
        await sendRaw(this.files, user, entry.song, req, res, download, relogin);
      } else {
        this.playing.set(user.name, { user: user.name, songId: id, since: Date.now() });
        const from = Math.max(0, params.number("timeOffset") ?? 0);
        if (from >= entry.song.duration) {
          throw new SubsonicError(ErrorCode.generic, "timeOffset is past the end of the song");
        }
        if (req.method === "HEAD") sendWavHead(entry.song, from, res);
        else await sendWav(this.files, user, entry.song, from, res, this.log, relogin);
      }
    } finally {
      user.busy--;
      user.lastUsed = Date.now();
    }
    return "sent";
  }

  /**
   * A submission is a play; without `submission=false` is "now playing". Its
   * `time` (when the song started, ms) lets getNowPlaying say where in the song
   * the listener is, so others can join them (the web player sends it).
   */
  private scrobble(call: Call, user: GatewayUser): Body {
    const ids = call.params.all("id");
    if (ids.length === 0) call.params.required("id");
    const last = ids[ids.length - 1];
    if (last && call.params.get("submission") === "false") {
      const now = Date.now();
      const time = call.params.number("time");
      const since = time !== undefined && time > 0 && time <= now ? time : now;
      this.playing.set(user.name, { user: user.name, songId: last, since });
    }
    return {};
  }

  private nowPlaying(library: Library): Body {
    const entry: Body[] = [];
    const stale = Date.now() - 30 * 60_000;
    for (const p of this.playing.values()) {
      const song = library.songs.get(p.songId)?.song;
      if (!song || p.since < stale) continue;
      entry.push({
        ...songView(library, song),
        username: p.user,
        minutesAgo: Math.floor((Date.now() - p.since) / 60_000),
        playerId: 0,
        // Chorus's own: seconds into the song now, if they kept playing.
        position: Math.min(song.duration, (Date.now() - p.since) / 1000),
      });
    }
    return { nowPlaying: { entry } };
  }
}

function genres(library: Library): Body {
  const counts = new Map<string, { songs: number; albums: Set<string> }>();
  for (const { song, album } of library.songs.values()) {
    if (!song.genre) continue;
    const count = counts.get(song.genre) ?? { songs: 0, albums: new Set<string>() };
    count.songs++;
    count.albums.add(album.id);
    counts.set(song.genre, count);
  }
  return {
    genres: {
      genre: [...counts].map(([value, c]) => ({
        value,
        songCount: c.songs,
        albumCount: c.albums.size,
      })),
    },
  };
}

/** Who is asking, for device cookies: the HTTP client's address. */
function clientOf(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? "";
}

/** The songs whose art stands for an id: an album's, an artist's albums', a song's album's. */
function songsFor(library: Library, id: string): Song[] {
  const album = library.albums.get(id) ?? library.songs.get(id)?.album;
  if (album) return album.songs;
  return library.artists.get(id)?.albums.flatMap((a) => a.songs) ?? [];
}
