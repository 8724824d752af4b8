/** The gateway's pure parts: the tag mapping, HTTP Range, the XML envelope, parameters. */
import { expect } from "chai";
import type { Song } from "../wire/media.js";
import {
  albumIdOf,
  artistIdOf,
  Library,
  unknownAlbum,
  unknownArtist,
} from "../actors/gateway/library.js";
import { parseRange } from "../actors/gateway/range.js";
import { credentialsOf, Params } from "../actors/gateway/params.js";
import { renderError, renderOk, SubsonicError } from "../actors/gateway/subsonic-response.js";
import { parseListen } from "../actors/gateway/http.js";

const song = (id: string, tags: Partial<Song> = {}): Song => ({
  id,
  title: id,
  file: `${id}.wav`,
  duration: 10,
  format: { sampleRate: 8000, channels: 1, bitDepth: 16 },
  bytes: 160_000,
  ...tags,
});

describe("gateway building blocks", () => {
  it("maps tags to artists and albums with stable ids; untagged songs go to Unknown", () => {
    const library = new Library([
      song("a", { artist: "Band", album: "First", track: 2 }),
      song("b", { artist: "band ", album: "first", track: 1 }),
      song("c", { artist: "Guest", albumArtist: "Band", album: "First", track: 3 }),
      song("d"),
    ]);
    const first = library.albums.get(albumIdOf("Band", "First"));
    expect(first?.songs.map((s) => s.id)).to.deep.equal(["b", "a", "c"]);
    expect(library.artists.get(artistIdOf("BAND"))?.albums).to.have.length(1);
    expect(library.songs.get("c")?.artist).to.equal("Guest");
    const unknown = library.albums.get(albumIdOf(unknownArtist, unknownAlbum));
    expect(unknown?.songs.map((s) => s.id)).to.deep.equal(["d"]);
    expect(
      new Library([song("a", { artist: "Band", album: "First" })]).albums.keys().next().value,
    ).to.equal(first?.id);
    expect(library.search("").songs).to.have.length(4);
    expect(library.search("band first").songs.map((s) => s.id)).to.have.members(["a", "b", "c"]);
  });

  it("parses one HTTP range, and says when it cannot be met", () => {
    expect(parseRange(undefined, 100)).to.deep.equal({ kind: "whole" });
    expect(parseRange("bytes=10-19", 100)).to.deep.equal({ kind: "range", start: 10, end: 19 });
    expect(parseRange("bytes=90-", 100)).to.deep.equal({ kind: "range", start: 90, end: 99 });
    expect(parseRange("bytes=-10", 100)).to.deep.equal({ kind: "range", start: 90, end: 99 });
    expect(parseRange("bytes=50-500", 100)).to.deep.equal({ kind: "range", start: 50, end: 99 });
    expect(parseRange("bytes=100-", 100)).to.deep.equal({ kind: "unsatisfiable" });
    expect(parseRange("bytes=0-1,5-6", 100)).to.deep.equal({ kind: "whole" });
  });

  it("renders the envelope in XML and JSON, escaping what files may hold", () => {
    const xml = renderOk("xml", { song: { id: "s", title: 'A <"b"> & c\u0001' } }).body;
    expect(xml).to.include('title="A &lt;&quot;b&quot;&gt; &amp; c"');
    expect(xml).to.match(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<subsonic-response /);
    const list = renderOk("xml", { x: { item: [{ id: 1 }, { id: 2 }], versions: [1, 2] } }).body;
    expect(list).to.include(
      '<x><item id="1"/><item id="2"/><versions>1</versions><versions>2</versions></x>',
    );
    const json = JSON.parse(renderError("json", new SubsonicError(70, "Song not found")).body) as {
      "subsonic-response": { status: string; error: { code: number } };
    };
    expect(json["subsonic-response"].status).to.equal("failed");
    expect(json["subsonic-response"].error.code).to.equal(70);
  });

  it("reads credentials: API key, u+p (enc: too), token; conflicts are 43", () => {
    const of = (q: string) => credentialsOf(new Params(new URLSearchParams(q)));
    expect(of("apiKey=k")).to.deep.equal({ method: "apiKey", key: "k" });
    expect(of("u=a&p=enc:6869")).to.deep.equal({ method: "password", user: "a", password: "hi" });
    expect(of("u=a&t=ABC&s=x")).to.deep.equal({
      method: "token",
      user: "a",
      token: "abc",
      salt: "x",
    });
    expect(() => of("apiKey=k&u=a"))
      .to.throw(SubsonicError)
      .with.property("code", 43);
    expect(() => of("p=x"))
      .to.throw(SubsonicError)
      .with.property("code", 10);
    expect(() => of("u=a&t=x"))
      .to.throw(SubsonicError)
      .with.property("code", 10);
  });

  it("parses --http addresses", () => {
    expect(parseListen("127.0.0.1:4533")).to.deep.equal({ host: "127.0.0.1", port: 4533 });
    expect(parseListen("[::1]:80")).to.deep.equal({ host: "::1", port: 80 });
    expect(parseListen(":0")).to.deep.equal({ host: "127.0.0.1", port: 0 });
    expect(() => parseListen("nope")).to.throw(/HOST:PORT/);
  });
});
