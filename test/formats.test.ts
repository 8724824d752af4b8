import { expect } from "chai";
import { copyFile, mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { ChorusConfig } from "../actors/runtime/config.js";
import type { UserSession } from "../client/auth.js";
import { findFileNode, listSongs, play, type ChunkReader, type Song } from "../client/stream.js";
import { ChorusError } from "../wire/errors.js";
import { newObjectName, openSyncStore } from "../actors/sync/store.js";
import { receiveFile } from "../actors/sync/transfer.js";
import { pcmOf } from "../harness/fixtures/file.js";
import {
  decodeWhole,
  ffmpegChildren,
  formats,
  makeFixtures,
  sizeOf,
  tags,
  withCover,
  type Fixtures,
} from "../harness/fixtures/formats.js";
import { sha256Of, sha256OrUndefined } from "../harness/fixtures/sync.js";
import { TestSystem, type ChorusProcess } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";

/** Every byte the reader yields, checked to be contiguous, and when the first came. */
async function collect(playback: ChunkReader): Promise<Buffer> {
  const parts: Buffer[] = [];
  let next: number | undefined;
  for await (const chunk of playback) {
    if (next !== undefined) expect(chunk.byte, "contiguous chunks").to.equal(next);
    next = chunk.byte + chunk.data.length;
    parts.push(Buffer.from(chunk.data));
  }
  return Buffer.concat(parts);
}

/** The largest difference between two 16-bit PCM buffers' samples. */
function maxDifference(a: Buffer, b: Buffer): number {
  let max = 0;
  for (let i = 0; i + 1 < Math.min(a.length, b.length); i += 2) {
    max = Math.max(max, Math.abs(a.readInt16LE(i) - b.readInt16LE(i)));
  }
  return max;
}

describe("file nodes: FLAC, MP3, Ogg Vorbis, Opus and M4A (real ffmpeg, real nats-server, real processes)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let config: ChorusConfig;
  let prime: ChorusProcess;
  let user: UserSession;
  let node: string;
  let filePid: number;
  let fx: Fixtures;
  let listing: Song[];
  const byFile = (file: string): Song => {
    const song = listing.find((s) => s.file === file);
    if (!song) throw new Error(`${file} is not listed`);
    return song;
  };

  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    config = sys.config("prime", { maxLoad: 4, syncIntervalMs: 300 });
    fx = makeFixtures(config.music, path.join(sys.root, "sources"));
    prime = (await sys.startControl("prime", config)).proc;
    user = await sys.login();
    node = (await findFileNode(user.nc)).id;
    const actor = await sys.connect("actor");
    const nodes = await sys.nodes(actor);
    for (const n of nodes) sys.track(n.pid);
    filePid = nodes.find((n) => n.id === node)?.pid as number;
    listing = await listSongs(user.nc, user, node);
  });
  after(async () => {
    user?.stopHeartbeats();
    await sys?.cleanup();
  });

  it("lists each tagged format with its tags, duration, container, size and cover flag", () => {
    for (const format of formats) {
      const song = byFile(`song.${format}`);
      expect(song, format).to.deep.include({
        ...tags,
        container: format,
        fileBytes: sizeOf(fx.songs[format]),
        cover: withCover[format],
      });
      // An M4A's header counts the AAC encoder's padding: a few tens of ms over.
      expect(song.duration, format).to.be.within(3, 3.07);
      expect(song.format, format).to.deep.equal({
        sampleRate: format === "opus" ? 48_000 : 44_100,
        channels: 2,
        bitDepth: 16,
      });
      const { sampleRate, channels } = song.format;
      // Whole frames, and the duration shown is theirs (to the millisecond it is rounded to).
      expect(song.bytes % (channels * 2), format).to.equal(0);
      expect(song.bytes / (channels * 2) / sampleRate, format).to.be.closeTo(song.duration, 0.0006);
    }
    // FLAC's, Ogg's and (with its LAME tag's delay and padding) MP3's lengths are exact: the source's frames.
    for (const format of ["flac", "mp3", "ogg"] as const) {
      expect(byFile(`song.${format}`).bytes, format).to.equal(3 * 44_100 * 4);
    }
    expect(byFile("song.opus").bytes).to.equal(3 * 48_000 * 4);
  });

  it("plays each whole, exactly the listed bytes to the end of the song; FLAC bit-exact at 16 and 24 bits", async () => {
    const source = await pcmOf(fx.source);
    for (const format of formats) {
      const song = byFile(`song.${format}`);
      const playback = await play(user.nc, user, song.id, { node });
      const pcm = await collect(playback);
      expect((await playback.ended).reason, format).to.equal("eos");
      expect(pcm.length, `${format} bytes`).to.equal(song.bytes);
      if (format === "flac") {
        expect(pcm.equals(source), "FLAC bit-exact against its source").to.equal(true);
        continue;
      }
      // Lossy: exactly what ffmpeg decodes from the file, then silence to the listed length.
      const { sampleRate, channels } = song.format;
      const reference = decodeWhole(fx.songs[format], sampleRate, channels);
      const n = Math.min(reference.length, pcm.length);
      expect(n, `${format}: decoded at least 99% of the listed length`).to.be.above(
        song.bytes * 0.99,
      );
      expect(pcm.subarray(0, n).equals(reference.subarray(0, n)), format).to.equal(true);
      expect(
        pcm.subarray(n).every((b) => b === 0),
        `${format} padding is silence`,
      ).to.equal(true);
    }
    // FLAC plays at its own depth: 24-bit, bit-exact too.
    const deep = byFile("deep.flac");
    expect(deep.format).to.deep.equal({ sampleRate: 48_000, channels: 1, bitDepth: 24 });
    const pcm = await collect(await play(user.nc, user, deep.id, { node }));
    expect(pcm.equals(await pcmOf(fx.deepSource)), "24-bit FLAC bit-exact").to.equal(true);
  });

  it("starts and seeks exactly on the frame: FLAC bit-exact, the lossy formats too", async () => {
    const source = await pcmOf(fx.source);
    const flac = byFile("song.flac");
    const playback = await play(user.nc, user, flac.id, { node, from: 0.7 });
    const it = playback[Symbol.asyncIterator]();
    const first = (await it.next()).value;
    const startFrame = Math.floor(0.7 * 44_100);
    expect(first.frame).to.equal(startFrame);
    expect(
      Buffer.from(first.data).equals(
        source.subarray(startFrame * 4).subarray(0, first.data.length),
      ),
    ).to.equal(true);
    for (const at of [2.123457, 1.05]) {
      await playback.seek(at);
      const chunk = (await it.next()).value;
      const frame = Math.floor(at * 44_100);
      expect(chunk.frame, `seek ${at}`).to.equal(frame);
      const want = source.subarray(frame * 4, frame * 4 + chunk.data.length);
      expect(Buffer.from(chunk.data).equals(want), `FLAC from ${at} s`).to.equal(true);
    }
    await playback.stop();

    // Lossy codecs land on the frame too: MP3 and Vorbis the very samples of a whole decode
    // (decoded from the start); Opus and AAC seek with a pre-roll, whose decoder state differs
    // by a few LSB, while one frame off would differ by hundreds on this tone.
    for (const format of ["mp3", "ogg", "opus", "m4a"] as const) {
      const song = byFile(`song.${format}`);
      const { sampleRate, channels } = song.format;
      const reference = decodeWhole(fx.songs[format], sampleRate, channels);
      const from = 1.234567;
      const rest = await collect(await play(user.nc, user, song.id, { node, from }));
      const frame = Math.floor(from * sampleRate);
      expect(rest.length, format).to.equal(song.bytes - frame * channels * 2);
      const n = Math.min(reference.length - frame * channels * 2, rest.length);
      const want = reference.subarray(frame * channels * 2, frame * channels * 2 + n);
      if (format === "mp3" || format === "ogg") {
        expect(rest.subarray(0, n).equals(want), `${format} from ${from} s`).to.equal(true);
      } else {
        expect(maxDifference(rest.subarray(0, n), want), `${format} from ${from} s`).to.be.below(
          64,
        );
      }
    }
  });

  it("runs one ffmpeg per playing stream, and none once a stream is paused, stopped or ended", async () => {
    const flac = byFile("song.flac");
    const source = await pcmOf(fx.source);
    const playback = await play(user.nc, user, flac.id, { node, manualPosition: true });
    const it = playback[Symbol.asyncIterator]();
    const first = (await it.next()).value;
    await waitFor(() => ffmpegChildren(filePid).length === 1 || undefined, "a decoder");
    await playback.pause();
    await waitFor(
      () => ffmpegChildren(filePid).length === 0 || undefined,
      "no decoder while paused",
    );
    await playback.resume();
    playback.played(first.frames);
    // Resumed: the bytes go on exactly where they were (a new decoder, seeked exactly).
    const parts = [Buffer.from(first.data)];
    let bytes = first.data.length;
    while (bytes < 2 * 44_100 * 4) {
      const chunk = (await it.next()).value;
      expect(chunk.byte).to.equal(bytes);
      parts.push(Buffer.from(chunk.data));
      bytes += chunk.data.length;
      playback.played(chunk.frame + chunk.frames);
    }
    expect(Buffer.concat(parts).equals(source.subarray(0, bytes))).to.equal(true);
    await playback.stop();
    await waitFor(() => ffmpegChildren(filePid).length === 0 || undefined, "no decoder after stop");
    // Played to its end: the decoder is gone too.
    const whole = await play(user.nc, user, flac.id, { node });
    await collect(whole);
    await waitFor(
      () => ffmpegChildren(filePid).length === 0 || undefined,
      "no decoder after the end",
    );
  });

  it("leaves out a broken file of every format with one clear warning each, and refuses it by name", async () => {
    const files = listing.map((s) => s.file);
    for (const [name, what] of Object.entries(fx.broken)) {
      expect(files, `${name} (${what}) listed`).not.to.include(name);
      const err = await play(user.nc, user, name, { node }).catch((e: unknown) => e);
      expect(err, name).to.be.instanceOf(ChorusError).with.property("code", "BAD_REQUEST");
      expect((err as Error).message, name).to.match(
        /song cannot be played: .*(truncated|not a valid)/,
      );
      const warnings = prime
        .output()
        .split("\n")
        .filter((l) => l.includes("not a playable") && l.includes(`file=${name}`));
      expect(warnings, `${name}: one warning`).to.have.length(1);
      if (what === "truncated") expect(warnings[0], name).to.match(/truncated/);
    }
    // And the node still plays: a listing after all of that is the same.
    expect((await listSongs(user.nc, user, node)).map((s) => s.file)).to.deep.equal(files);
  });

  it("syncs a FLAC from another machine's folder, where it plays; a broken one stays there", async () => {
    const plane = sys.config("plane", { syncIntervalMs: 300 });
    await sys.startControl("plane", plane);
    await copyFile(fx.songs.flac, path.join(plane.music, "from the plane.flac"));
    await copyFile(
      path.join(config.music, "cut-short.flac"),
      path.join(plane.music, "cut-short-too.flac"),
    );
    const hash = await sha256Of(fx.songs.flac);
    const arrived = path.join(config.music, "from the plane.flac");
    await waitFor(async () => (await sha256OrUndefined(arrived)) === hash || undefined, "the FLAC");
    const song = (await listSongs(user.nc, user, node)).find(
      (s) => s.file === "from the plane.flac",
    );
    expect(song?.title).to.equal(tags.title);
    const pcm = await collect(await play(user.nc, user, song?.id as string, { node }));
    expect(pcm.equals(await pcmOf(fx.source))).to.equal(true);
    // The plane's music folder also got the prime's songs, but never the broken ones.
    await waitFor(
      async () => (await sha256OrUndefined(path.join(plane.music, "song.opus"))) !== undefined,
      "the prime's songs on the plane",
    );
    expect(await sha256OrUndefined(path.join(config.music, "cut-short-too.flac"))).to.equal(
      undefined,
    );
    expect(await sha256OrUndefined(path.join(plane.music, "cut-short.flac"))).to.equal(undefined);
  });

  it("a receiver refuses content that is not the music its name says, and nothing lands", async () => {
    const store = await openSyncStore(await sys.connect("actor"));
    const landing = path.join(sys.root, "landing");
    await mkdir(landing, { recursive: true });
    for (const [name, file] of [
      ["lying.flac", path.join(config.music, "random.flac")],
      ["cut.mp3", path.join(config.music, "cut-short.mp3")],
    ] as const) {
      const data = await readFile(file);
      const object = newObjectName();
      await store.os.putBlob({ name: object }, data);
      const err = await receiveFile(store, landing, {
        object,
        name,
        hash: await sha256Of(file),
        size: data.length,
        ifExists: "keep",
        loserHost: "elsewhere",
      }).catch((e: unknown) => e);
      expect(err, name).to.be.instanceOf(ChorusError).with.property("code", "BAD_REQUEST");
      expect((err as Error).message, name).to.match(/not a playable music file: /);
      await store.os.delete(object);
    }
    expect(await readdir(landing)).to.deep.equal([]);
  });
});

describe("a file node without ffmpeg (real processes, ffmpeg off their PATH)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let user: UserSession | undefined;
  after(async () => {
    user?.stopHeartbeats();
    await sys?.cleanup();
  });

  it("lists and plays WAV, leaves the rest out with one warning, and refuses them by name", async () => {
    sys = new TestSystem();
    await sys.startBroker();
    const config = sys.config("prime");
    const fx = makeFixtures(path.join(sys.root, "all"), path.join(sys.root, "sources"), 1);
    await mkdir(config.music, { recursive: true });
    await copyFile(fx.source, path.join(config.music, "plain.wav"));
    await copyFile(fx.songs.flac, path.join(config.music, "song.flac"));
    await copyFile(fx.songs.mp3, path.join(config.music, "song.mp3"));
    // The prime and the nodes it spawns find no ffmpeg.
    const prime = sys.run(["prime"], config, { PATH: path.join(sys.root, "empty-bin") });
    const actor = await sys.connect("actor");
    await waitFor(async () => {
      if (prime.child.exitCode !== null) throw new Error(`prime exited: ${prime.output()}`);
      return (await sys.nodes(actor).catch(() => [])).some((n) => n.kind === "prime");
    }, "the prime");
    user = await sys.login();
    const node = (await findFileNode(user.nc)).id;
    for (const n of await sys.nodes(actor)) sys.track(n.pid);
    const songs = await listSongs(user.nc, user, node);
    expect(songs.map((s) => s.file)).to.deep.equal(["plain.wav"]);
    const pcm = await collect(await play(user.nc, user, "plain.wav", { node }));
    expect(pcm.equals(await pcmOf(fx.source))).to.equal(true);
    const err = await play(user.nc, user, "song.flac", { node }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ChorusError).with.property("code", "BAD_REQUEST");
    expect((err as Error).message).to.match(/\.flac files need ffmpeg/);
    await listSongs(user.nc, user, node);
    const warnings = prime
      .output()
      .split("\n")
      .filter((l) => / warn /.test(l) && /ffmpeg/.test(l));
    expect(warnings, prime.output()).to.have.length(1);
    expect(warnings[0]).to.match(/ffmpeg not found: only WAV songs are listed and played/);
  });
});
