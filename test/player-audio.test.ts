/**
 * Audio outputs: WAV files (header, sizes, data), raw PCM on a pipe, silence,
 * the sound card through ALSA's null device, and readable errors.
 */
import { readWav as readWavFile } from "../harness/fixtures/player.js";
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { chooseOutput } from "../client/audio/choose.js";
import { aplayArgs, describeFormat, type PcmFormat } from "../client/audio/format.js";
import { probeSpeaker } from "../client/audio/speaker.js";
import { StdoutOutput } from "../client/audio/stdout.js";
import { WavOutput } from "../client/audio/wav.js";

const cd: PcmFormat = { sampleRate: 44100, channels: 2, bitDepth: 16 };
const mono: PcmFormat = { sampleRate: 22050, channels: 1, bitDepth: 8 };

function pcm(bytes: number, seed = 1): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = seed;
  for (let i = 0; i < bytes; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Data chunk bytes and format of a WAV file, read with wavefile. */
/** The file as the harness reads it, and the size its RIFF header claims. */
function readWav(file: string): { format: PcmFormat; data: Buffer; riffSize: number } {
  return { ...readWavFile(file), riffSize: readFileSync(file).readUInt32LE(4) };
}

describe("player audio outputs", function () {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "chorus-audio-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes a WAV file whose header and data match what was played", async () => {
    const file = path.join(dir, "out.wav");
    const out = new WavOutput(file);
    expect(out.description).to.equal(`audio output: WAV file ${file}`);
    const sink = await out.open(cd);
    const song = pcm(44100 * 4 + 400);
    for (let i = 0; i < song.length; i += 7000) await sink.write(song.subarray(i, i + 7000));
    await sink.close();
    const back = readWav(file);
    expect(back.format).to.deep.equal(cd);
    expect(back.riffSize).to.equal(36 + song.length);
    expect(back.data.equals(Buffer.from(song))).to.equal(true);
  });

  it("keeps the WAV valid when the player stops mid-song, and rewrites it for the next song", async () => {
    const file = path.join(dir, "out.wav");
    const out = new WavOutput(file);
    const first = await out.open(cd);
    await first.write(pcm(8000));
    out.finishSync(); // what the exit path does on a crash
    expect(readWav(file).data.length).to.equal(8000);
    const second = await out.open(mono);
    await second.write(pcm(1001, 7));
    await out.close();
    const back = readWav(file);
    expect(back.format).to.deep.equal(mono);
    expect(back.data.equals(Buffer.from(pcm(1001, 7)))).to.equal(true);
  });

  it("says clearly when the output path cannot be written", async () => {
    const missing = path.join(dir, "no", "such", "dir", "x.wav");
    expect(() => new WavOutput(missing)).to.throw(/cannot write .*x\.wav: ENOENT/);
    const folder = path.join(dir, "folder.wav");
    mkdirSync(folder);
    try {
      await chooseOutput(folder, { fallbackWav: "", stdoutAllowed: true, stdoutIsTty: false });
      expect.fail("should throw");
    } catch (err) {
      expect((err as Error).message).to.match(/cannot write .*folder\.wav: EISDIR/);
    }
  });

  it("writes raw PCM to a pipe and tells the format once, with aplay flags", async () => {
    const pipe = new PassThrough();
    const got: Buffer[] = [];
    pipe.on("data", (d: Buffer) => got.push(d));
    const notes: string[] = [];
    const out = new StdoutOutput("", pipe, (l) => notes.push(l));
    const a = await out.open(cd);
    await a.write(pcm(100));
    await (await out.open(cd)).write(pcm(50, 3));
    expect(Buffer.concat(got).equals(Buffer.concat([pcm(100), pcm(50, 3)]))).to.equal(true);
    expect(notes).to.deep.equal([
      "raw PCM 44.1 kHz stereo 16-bit: pipe into aplay -t raw -f S16_LE -r 44100 -c 2",
    ]);
    expect(describeFormat(mono)).to.equal("22.05 kHz mono 8-bit");
    expect(aplayArgs(mono)).to.equal("aplay -t raw -f U8 -r 22050 -c 1");
  });

  it("fails a write with a readable error when the reader has gone", async () => {
    const pipe = new PassThrough();
    const out = new StdoutOutput("", pipe, () => undefined);
    const sink = await out.open(cd);
    pipe.destroy(new Error("EPIPE"));
    try {
      await sink.write(pcm(10));
      expect.fail("should throw");
    } catch (err) {
      expect((err as Error).message).to.match(/stdout closed/);
    }
  });

  it("finds no sound card when ALSA has none, and falls back to a WAV file saying why", async function () {
    this.timeout(10_000);
    const bad = path.join(dir, "bad-alsa.conf");
    writeFileSync(bad, "pcm.!default { type hw card 9 }\n");
    const saved = process.env.ALSA_CONFIG_PATH;
    process.env.ALSA_CONFIG_PATH = bad;
    try {
      const probe = await probeSpeaker();
      expect(probe).to.deep.equal({
        ok: false,
        reason: "no usable sound device (cannot open device default)",
      });
      const fallback = path.join(dir, "fallback.wav");
      const out = await chooseOutput(undefined, {
        fallbackWav: fallback,
        stdoutAllowed: false,
        stdoutIsTty: true,
      });
      expect(out.kind).to.equal("wav");
      expect(out.description).to.equal(
        `audio output: WAV file ${fallback} (no usable sound device (cannot open device default))`,
      );
      const piped = await chooseOutput(undefined, {
        fallbackWav: fallback,
        stdoutAllowed: true,
        stdoutIsTty: false,
      });
      expect(piped.kind).to.equal("stdout");
      try {
        await chooseOutput("speaker", { fallbackWav: "", stdoutAllowed: true, stdoutIsTty: true });
        expect.fail("should throw");
      } catch (err) {
        expect((err as Error).message).to.equal(
          "cannot use the sound card: no usable sound device (cannot open device default)",
        );
      }
    } finally {
      if (saved === undefined) delete process.env.ALSA_CONFIG_PATH;
      else process.env.ALSA_CONFIG_PATH = saved;
    }
  });

  it("plays through the speaker module on ALSA's null device (in a child: no device aborts)", async function () {
    this.timeout(15_000);
    const conf = path.join(dir, "null-alsa.conf");
    writeFileSync(conf, "pcm.!default { type null }\n");
    const script = path.join(dir, "speaker-child.mjs");
    const choose = new URL("../client/audio/choose.js", import.meta.url).href;
    writeFileSync(
      script,
      `import { chooseOutput } from ${JSON.stringify(choose)};
       const out = await chooseOutput("speaker", { fallbackWav: "", stdoutAllowed: true, stdoutIsTty: true });
       const sink = await out.open({ sampleRate: 22050, channels: 1, bitDepth: 16 });
       for (let i = 0; i < 10; i++) await sink.write(new Uint8Array(4410));
       await sink.close();
       console.log(out.kind + "|" + out.description);`,
    );
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, ALSA_CONFIG_PATH: conf },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(out.trim()).to.equal("speaker|audio output: sound card (speaker)");
    expect(code).to.equal(0);
  });
});
