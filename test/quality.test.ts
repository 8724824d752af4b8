import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { findFfmpeg } from "../actors/file/decode.js";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { UserSession } from "../client/auth.js";
import { findFileNode, play, type ChunkReader, type FileNodeRef } from "../client/stream.js";
import { opusBitrate, qualityLevels, type LossyQuality, type Quality } from "../wire/quality.js";
import { pcmOf } from "../harness/fixtures/file.js";
import {
  bestLag,
  cpuSeconds,
  encodersOf,
  shareLike,
  ffmpegsMentioning,
  pcm48,
  similarity,
  writeMelody,
} from "../harness/fixtures/quality.js";
import { TestSystem, type ChorusProcess } from "../harness/system.js";
import { render, stripAnsi } from "../cli/screen/view.js";
import { call } from "../actors/runtime/endpoint.js";
import { wireSession } from "../client/file-stream.js";
import { at } from "../wire/contract.js";
import { filePlay } from "../wire/file.js";
import { NullOutput } from "../client/audio/null.js";
import { WavOutput } from "../client/audio/wav.js";
import { findFileSource } from "../client/file-source.js";
import { Player } from "../client/player.js";
import { demoUser, readWav } from "../harness/fixtures/player.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { pidAlive, waitFor } from "../harness/wait.js";

const lossy: LossyQuality[] = ["high", "normal", "low"];

/** Everything a reader yields, checked to be contiguous, and when its first chunk came. */
async function collect(
  reader: ChunkReader,
  t0: number,
): Promise<{ pcm: Buffer; firstMs: number; firstFrame: number }> {
  const parts: Buffer[] = [];
  let next: number | undefined;
  let firstMs = -1;
  let firstFrame = -1;
  for await (const chunk of reader) {
    if (firstMs < 0) {
      firstMs = Date.now() - t0;
      firstFrame = chunk.frame;
    }
    if (next !== undefined) expect(chunk.byte, "contiguous chunks").to.equal(next);
    next = chunk.byte + chunk.data.length;
    parts.push(Buffer.from(chunk.data));
  }
  return { pcm: Buffer.concat(parts), firstMs, firstFrame };
}

describe("quality levels (real nats-server, real ffmpeg and libopus)", function () {
  this.timeout(60_000);
  const ffmpeg = findFfmpeg();
  let sys: TestSystem;
  let config: ChorusConfig;
  let node: FileNodeRef;
  let session: UserSession;
  let actor: NatsConnection;
  let prime: ChorusProcess;
  const cacheDir = (): string => path.join(config.data, "transcode");
  const cacheFiles = (): string[] =>
    existsSync(cacheDir()) ? readdirSync(cacheDir()).filter((f) => f.endsWith(".opus")) : [];
  const cacheFile = (file: string, level: Quality): string | undefined => {
    const song = songIds.get(file);
    return cacheFiles().find((f) => f.startsWith(`${song}-${level}-`));
  };
  const songIds = new Map<string, string>();
  /** The file node's pid, and every encoder it was seen running: none may outlive the test. */
  let filePid = 0;
  const seen = new Set<number>();
  const encoders = (): number[] => {
    const now = encodersOf(filePid);
    for (const pid of now) seen.add(pid);
    return now;
  };

  before(async function () {
    if (!ffmpeg) this.skip();
    sys = new TestSystem();
    await sys.startBroker();
    // 1 MiB of cache: the short songs fit, three longer ones do not.
    // 1 s beats (5 s of session expiry): this process decodes Opus, and on a loaded machine
    // that can hold its event loop past the test timing's 1.5 s expiry.
    config = sys.config("prime", {
      maxLoad: 4,
      idleMs: 60_000,
      transcodeCacheMb: 1,
      heartbeatMs: 1000,
    });
    writeMelody(path.join(config.music, "melody.wav"), 4);
    writeMelody(path.join(config.music, "long.wav"), 30);
    // Long enough that the node's window (2 s) never reaches its end between seeks.
    writeMelody(path.join(config.music, "seek.wav"), 12);
    for (const n of ["a", "b", "c"]) writeMelody(path.join(config.music, `evict-${n}.wav`), 12);
    writeMelody(path.join(config.music, "twin.wav"), 20);
    // Another container than WAV: what a warm encoder is fed is the file as it is.
    writeMelody(path.join(sys.root, "flac-src.wav"), 3);
    execFileSync(ffmpeg as string, [
      ...["-v", "error", "-i", path.join(sys.root, "flac-src.wav")],
      path.join(config.music, "melody.flac"),
    ]);
    prime = (await sys.startControl("prime", config)).proc;
    actor = await sys.connect("actor");
    session = await sys.login("Someone");
    for (const n of await sys.nodes(actor)) sys.track(n.pid);
    node = await findFileNode(session.nc);
    for (const n of await sys.nodes(actor)) sys.track(n.pid);
    filePid = (await sys.nodes(actor)).find((n) => n.id === node.id)?.pid ?? 0;
    const { listSongs } = await import("../client/stream.js");
    for (const s of await listSongs(session.nc, session, node.id)) songIds.set(s.file, s.id);
  });

  const players: Player[] = [];
  const startPlayer = async (
    quality: Quality | undefined,
    output = new NullOutput() as NullOutput | WavOutput,
  ): Promise<Player> => {
    const p = await Player.start({
      config,
      credentials: demoUser,
      output,
      findSource: findFileSource,
      host: true,
      quality,
    });
    players.push(p);
    return p;
  };

  after(async () => {
    if (filePid) encoders();
    await Promise.all(players.map((p) => p.close()));
    session?.stopHeartbeats();
    await sys?.cleanup();
    // No encoder outlives its file node.
    if (sys) {
      await waitFor(() => ffmpegsMentioning(sys.root).length === 0, "no ffmpeg left", 5000);
      await waitFor(() => [...seen].every((pid) => !pidAlive(pid)), "no encoder left", 5000);
    }
  });

  it("plays the whole song at every level: its length, its audio, fewer bytes per lower level", async () => {
    const file = path.join(config.music, "melody.wav");
    const source = await pcmOf(file);
    const reference = pcm48(ffmpeg as string, file, 2);
    const seconds = source.length / 4 / 44_100;
    const bytesPerSecond: Partial<Record<Quality, number>> = {};
    for (const quality of qualityLevels) {
      const t0 = Date.now();
      const reader = await play(session.nc, session, "melody.wav", { node: node.id, quality });
      const { pcm, firstMs } = await collect(reader, t0);
      expect((await reader.ended).reason).to.equal("eos");
      bytesPerSecond[quality] = reader.wireBytes / seconds;
      if (quality === "lossless") {
        expect(reader.codec).to.equal(undefined);
        expect(pcm.equals(source), "lossless is the file's PCM").to.equal(true);
      } else {
        const codec = reader.codec;
        expect(codec?.quality).to.equal(quality);
        expect(reader.format).to.deep.include({ sampleRate: 48_000, channels: 2, bitDepth: 16 });
        // The song's length, within a frame.
        expect(Math.abs(pcm.length / 4 - reference.length / 4)).to.be.at.most(1);
        expect(pcm.length / 4).to.equal(codec?.frames);
        const alike = similarity(pcm, reference);
        expect(alike, `${quality}: like the song`).to.be.above(0.9);
        const nominal = opusBitrate[quality] / 8;
        const ratio = (bytesPerSecond[quality] as number) / nominal;
        console.log(
          `      ${quality}: ${Math.round(bytesPerSecond[quality] as number)} B/s on the wire ` +
            `(${ratio.toFixed(2)} of nominal), similarity ${alike.toFixed(4)}, first audio ${firstMs} ms`,
        );
        expect(ratio, `${quality} near its bitrate`).to.be.within(0.7, 1.3);
      }
    }
    const ordered = qualityLevels.map((q) => bytesPerSecond[q] as number);
    console.log(`      lossless: ${Math.round(ordered[0] as number)} B/s on the wire`);
    for (let i = 1; i < ordered.length; i++) {
      expect(ordered[i], `${qualityLevels[i]} below ${qualityLevels[i - 1]}`).to.be.below(
        ordered[i - 1] as number,
      );
    }
  });

  it("seeks to within 20 ms, pauses and resumes at every lossy level", async () => {
    const file = path.join(config.music, "seek.wav");
    const reference = pcm48(ffmpeg as string, file, 2);
    for (const quality of lossy) {
      const reader = await play(session.nc, session, "seek.wav", { node: node.id, quality });
      const it = reader[Symbol.asyncIterator]();
      const first = (await it.next()).value;
      expect(first.frame).to.equal(0);

      await reader.pause();
      let yielded = false;
      const during = it.next().then((r) => {
        yielded = true;
        return r;
      });
      // An observation window: nothing may arrive while paused.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(yielded, "no chunk while paused").to.equal(false);
      await reader.resume();
      const second = (await during).value;
      expect(second.byte, "resumes where it paused").to.equal(first.byte + first.data.length);

      for (const at of [5.345, 0.777]) {
        await reader.seek(at);
        const chunk = (await it.next()).value;
        const frame = Math.floor(at * 48_000);
        expect(chunk.frame, `${quality} seek ${at}`).to.equal(frame);
        const parts = [Buffer.from(chunk.data)];
        for (let n = 0; n < 2; n++) {
          const more = await it.next();
          if (more.done) break;
          parts.push(Buffer.from(more.value.data));
        }
        const after = Buffer.concat(parts);
        // Where does the decoded audio really start? Search ±30 ms; it must be within 20 ms.
        const { lag, score } = bestLag(reference, after, frame, 2, 1440);
        expect(Math.abs(lag), `${quality} seek ${at} lands within 20 ms`).to.be.at.most(960);
        expect(score, `${quality} seek ${at} is the song there`).to.be.above(0.9);
        console.log(
          `      ${quality} seek ${at}s: off by ${lag} frames, similarity ${score.toFixed(4)}`,
        );
      }
      await reader.stop();
      expect((await reader.ended).reason).to.equal("stopped");
    }
  });

  it("serves a second play from the cache (no encoder), a first play before its encode ends", async () => {
    for (const quality of lossy) {
      expect(cacheFile("long.wav", quality), "not cached yet").to.equal(undefined);
      let t0 = Date.now();
      const first = await play(session.nc, session, "long.wav", { node: node.id, quality });
      const it = first[Symbol.asyncIterator]();
      await it.next();
      const uncachedMs = Date.now() - t0;
      // First audio came while ffmpeg was still encoding the 30 s song.
      const encodingAtFirstAudio = cacheFile("long.wav", quality) === undefined;
      expect(first.codec?.cached).to.equal(false);
      await first.stop();
      // The encode goes on to its end without a listener, then lands in the cache;
      // meanwhile we read the encoders' CPU time (the one that exits is this encode's).
      const cpu = new Map<number, number>();
      await waitFor(
        () => {
          for (const pid of encoders()) cpu.set(pid, cpuSeconds(pid) ?? cpu.get(pid) ?? 0);
          return cacheFile("long.wav", quality);
        },
        `${quality} cache file`,
        10_000,
        5,
      );
      const spent = [...cpu].filter(([pid]) => !pidAlive(pid)).reduce((s, [, c]) => s + c, 0);
      const encodeMs = Date.now() - t0;
      expect(encodingAtFirstAudio, "first audio before the encode finished").to.equal(true);

      // The encoders the node runs (warm spares): a cached play starts none and takes none.
      const before = encoders();
      expect(before.length, "the node keeps a warm encoder").to.be.at.least(1);
      t0 = Date.now();
      const second = await play(session.nc, session, "long.wav", { node: node.id, quality });
      const it2 = second[Symbol.asyncIterator]();
      await it2.next();
      const cachedMs = Date.now() - t0;
      expect(second.codec?.cached, "served from the cache").to.equal(true);
      expect(encoders(), "no encoder for a cached play").to.deep.equal(before);
      await second.stop();
      console.log(
        `      ${quality}: first audio ${uncachedMs} ms uncached, ${cachedMs} ms cached, ` +
          `encoder CPU ${((spent * 60) / 30).toFixed(2)} s per minute of music ` +
          `(encode of 30 s done within ${encodeMs} ms, ` +
          `${Math.round(statSync(path.join(cacheDir(), cacheFile("long.wav", quality) as string)).size / 1024)} KiB)`,
      );
    }
  });

  it("a FLAC plays at every lossy level, through a warm encoder once there is one", async () => {
    const reference = pcm48(ffmpeg as string, path.join(config.music, "melody.flac"), 2);
    for (const quality of lossy) {
      const reader = await play(session.nc, session, "melody.flac", { node: node.id, quality });
      const { pcm } = await collect(reader, Date.now());
      expect((await reader.ended).reason).to.equal("eos");
      expect(Math.abs(pcm.length - reference.length) / 4, `${quality} length`).to.be.at.most(1);
      expect(similarity(pcm, reference), `${quality} like the song`).to.be.above(0.9);
    }
  });

  it("two plays of one song at once share one encode", async () => {
    const open = (): Promise<ChunkReader> =>
      play(session.nc, session, "twin.wav", { node: node.id, quality: "normal" });
    const [a, b] = await Promise.all([open(), open()]);
    await waitFor(() => {
      encoders();
      return cacheFile("twin.wav", "normal");
    }, "twin.wav cached");
    expect([a.codec?.cached, b.codec?.cached]).to.deep.equal([false, false]);
    const [ca, cb] = await Promise.all([collect(a, Date.now()), collect(b, Date.now())]);
    expect(ca.pcm.equals(cb.pcm), "both heard the same encode").to.equal(true);
    const id = songIds.get("twin.wav") as string;
    const lines = prime.output().split("\n");
    const encodes = lines.filter((l) => l.includes("song transcoded") && l.includes(id));
    expect(encodes, "one encode logged").to.have.length(1);
    expect(cacheFiles().filter((f) => f.includes(id))).to.have.length(1);
    expect(readdirSync(cacheDir()).some((f) => f.endsWith(".part"))).to.equal(false);
  });

  it("keeps the cache under its limit, evicting the least recently used", async () => {
    const limit = config.transcodeCacheMb * 1024 * 1024;
    for (const n of ["a", "b", "c"]) {
      const reader = await play(session.nc, session, `evict-${n}.wav`, {
        node: node.id,
        quality: "high",
      });
      await reader[Symbol.asyncIterator]().next();
      await reader.stop();
      await waitFor(() => cacheFile(`evict-${n}.wav`, "high"), `evict-${n} cached`);
      const total = cacheFiles().reduce((s, f) => s + statSync(path.join(cacheDir(), f)).size, 0);
      expect(total, "under the limit").to.be.at.most(limit);
    }
    // The newest is kept; the oldest went first.
    expect(cacheFile("evict-c.wav", "high")).to.be.a("string");
    expect(cacheFile("melody.wav", "high"), "the least recently used went").to.equal(undefined);
    expect(cacheFiles().some((f) => f.endsWith(".part"))).to.equal(false);
  });

  it("the player plays a level to its end, shows it, and a P2P joiner hears the host's level", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "chorus-quality-"));
    try {
      const wav = path.join(dir, "normal.wav");
      const host = await startPlayer("normal", new WavOutput(wav));
      const id = (await host.songs()).find((s) => s.file === "melody.wav")?.id as string;
      await host.play(id);
      expect(host.status().now?.quality).to.equal("normal (Opus 128 kbit/s)");
      expect(await host.waitForEnd()).to.equal("ended");
      expect(host.status().underruns).to.equal(0);
      const back = readWav(wav);
      expect(back.format).to.deep.include({ sampleRate: 48_000, channels: 2 });
      const reference = pcm48(ffmpeg as string, path.join(config.music, "melody.wav"), 2);
      expect(Math.abs(back.data.length - reference.length) / 4).to.be.at.most(1);
      expect(similarity(back.data, reference)).to.be.above(0.9);

      // A joiner asking for no level hears what the host plays: its decoded normal-level PCM.
      const seekId = (await host.songs()).find((s) => s.file === "seek.wav")?.id as string;
      await host.play(seekId);
      // Not the last song's position: this song's.
      const onSeekSong = (p: Player): boolean => p.nowPlaying()?.song.file === "seek.wav";
      await waitFor(() => onSeekSong(host) && host.position > 0.5, "the host to play");
      const heard = new Map<number, Buffer>();
      const joiner = await startPlayer(undefined);
      const off = joiner.onChange((e) => {
        if (e.kind === "played" && onSeekSong(joiner)) heard.set(e.byte, Buffer.from(e.pcm));
      });
      await joiner.join(host.hostId as string);
      await waitFor(
        () => onSeekSong(joiner) && joiner.position > 1.5 && heard.size > 0,
        "the joiner to play a second",
      );
      off();
      expect(joiner.status().now?.source).to.match(/P2P/);
      expect(joiner.track()?.format).to.deep.include({ sampleRate: 48_000, channels: 2 });
      const full = pcm48(ffmpeg as string, path.join(config.music, "seek.wav"), 2);
      expect(shareLike(full, heard), "the joiner plays the song, at its place").to.be.above(0.9);
      expect(joiner.status().now?.quality, "the joiner shows the host's level").to.equal(
        "normal (Opus 128 kbit/s)",
      );

      // The host stops: the joiner carries on from a file node at the host's level and format.
      const after = new Map<number, Buffer>();
      const off2 = joiner.onChange((e) => {
        if (e.kind === "played" && onSeekSong(joiner)) after.set(e.byte, Buffer.from(e.pcm));
      });
      await host.stop();
      await waitFor(() => /file node/.test(joiner.status().now?.source ?? ""), "a file node");
      const from = joiner.position;
      await waitFor(() => joiner.position > from + 0.5, "the joiner to play on");
      off2();
      expect(joiner.track()?.format).to.deep.include({ sampleRate: 48_000, channels: 2 });
      expect(joiner.status().now?.quality).to.equal("normal (Opus 128 kbit/s)");
      expect(shareLike(full, after), "the song, at its place, after the fallback").to.be.above(0.9);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("chorus play --quality low writes the decoded song; a wrong level is a clear error", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "chorus-quality-cli-"));
    try {
      const wav = path.join(dir, "low.wav");
      const env = { CHORUS_PASSWORD: demoUser.password };
      const args = ["play", "melody.wav", "--quality", "low", "--out", wav, "--user", "Someone"];
      const proc = sys.run(args, config, env);
      proc.child.stdin?.end();
      const code = await proc.exited;
      const out = proc.output();
      expect(code, out).to.equal(0);
      expect(out).to.include("quality low (Opus 64 kbit/s)");
      const back = readWav(wav);
      expect(back.format).to.deep.include({ sampleRate: 48_000, channels: 2 });
      const reference = pcm48(ffmpeg as string, path.join(config.music, "melody.wav"), 2);
      expect(Math.abs(back.data.length - reference.length) / 4).to.be.at.most(1);
      expect(similarity(back.data, reference)).to.be.above(0.9);

      // The wire refuses a level it does not know, as any bad request.
      const err = await call(session.nc, at(filePlay, node.id), {
        session: wireSession(session),
        song: "melody.wav",
        deliver: session.newInbox(),
        quality: "ultra" as Quality,
      }).catch((e: unknown) => e);
      expect(err).to.have.property("code", "BAD_REQUEST");

      const bad = sys.run(
        ["play", "melody.wav", "--quality", "best", "--user", "Someone"],
        config,
        env,
      );
      bad.child.stdin?.end();
      expect(await bad.exited).to.not.equal(0);
      expect(bad.output()).to.match(/--quality must be one of lossless, high, normal, low/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("player screen: the quality level", () => {
  it("shows a lossy stream's level and bitrate where lossless shows the PCM format", () => {
    const base = {
      user: "Someone",
      songs: [{ id: "a", title: "A song", duration: 60 }],
      selected: 0,
      output: "audio output: silence",
      bufferMs: 1000,
      underruns: 0,
      playingId: "a",
    };
    const now = {
      title: "A song",
      state: "playing" as const,
      position: 3,
      duration: 60,
      format: "48 kHz stereo 16-bit",
      source: "file node file-f1",
    };
    const lossy = render({ ...base, now: { ...now, quality: "low (Opus 64 kbit/s)" } }, 100, 24)
      .map(stripAnsi)
      .join("\n");
    expect(lossy).to.include("low (Opus 64 kbit/s)");
    const lossless = render({ ...base, now: { ...now, quality: "lossless (PCM)" } }, 100, 24)
      .map(stripAnsi)
      .join("\n");
    expect(lossless).to.include("48 kHz stereo 16-bit");
  });
});
