/** `chorus songs` and `chorus play` as real processes: output, exit codes, bad input. */
import { expect } from "chai";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ChorusConfig } from "../actors/runtime/config.js";
import type { ChorusProcess, TestSystem } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";
import {
  demoUser,
  formats,
  readWav,
  slice,
  startSystem,
  writeSong,
  type TestSong,
} from "../harness/fixtures/player.js";

describe("chorus songs / chorus play (real processes)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let songs: TestSong[];
  let client: ChorusConfig;
  let dir: string;

  before(async () => {
    ({ sys, songs, client } = await startSystem((music) => [
      writeSong(music, "one.wav", 1.2, formats.mono22, 11),
      writeSong(music, "two.wav", 3, formats.cd, 12),
    ]));
    dir = mkdtempSync(path.join(tmpdir(), "chorus-play-"));
  });
  after(async () => {
    await sys?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = { CHORUS_PASSWORD: demoUser.password };
  async function run(
    args: string[],
    extra: NodeJS.ProcessEnv = env,
    stdin?: string,
  ): Promise<{ code: number | string; out: string; proc: ChorusProcess }> {
    const proc = sys.run(args, client, extra);
    if (stdin !== undefined) proc.child.stdin?.end(stdin);
    else proc.child.stdin?.end();
    const code = await proc.exited;
    return { code, out: proc.output(), proc };
  }

  it("chorus songs --json lists id, title, file, duration", async () => {
    const { code, out } = await run(["songs", "--json", "--user", "Someone"]);
    expect(code, out).to.equal(0);
    const list = JSON.parse(out) as Array<Record<string, unknown>>;
    expect(list.map((s) => s.file).sort()).to.deep.equal(["one.wav", "two.wav"]);
    for (const s of list) expect(s).to.include.keys("id", "title", "file", "duration");
    const table = await run(
      ["songs", "--user", "Someone", "--password-stdin"],
      {},
      "password123\n",
    );
    expect(table.out).to.match(/^ID +TITLE +DURATION/m);
    expect(table.out).to.match(/two +0:03 +44\.1 kHz stereo 16-bit +two\.wav/);
  });

  it("chorus play --out x.wav writes a valid WAV whose data equals the song", async () => {
    const wav = path.join(dir, "two.wav");
    const { code, out } = await run(["play", "two", "--out", wav, "--user", "Someone"]);
    expect(code, out).to.equal(0);
    expect(out.match(/audio output: WAV file/g)).to.have.length(1);
    expect(out).to.include("chorus: played to 0:03, 0 underruns\n");
    const back = readWav(wav);
    expect(back.format).to.deep.equal(formats.cd);
    expect(back.data.equals(songs[1]!.pcm)).to.equal(true);
  });

  it("--from and --for cut exactly that part", async () => {
    const wav = path.join(dir, "part.wav");
    const { code, out } = await run([
      "play",
      "two.wav",
      "--from",
      "1.5",
      "--for",
      "0.5",
      "--out",
      wav,
      "--user",
      "Someone",
    ]);
    expect(code, out).to.equal(0);
    expect(readWav(wav).data.equals(slice(songs[1]!, 1.5, 0.5))).to.equal(true);
  });

  it("--out - writes raw PCM on stdout and the format on stderr", async () => {
    const proc = sys.run(["play", "one", "--out", "-", "--user", "Someone"], client, env);
    proc.child.stdin?.end();
    const chunks: Buffer[] = [];
    let err = "";
    proc.child.stdout?.on("data", (d: Buffer) => chunks.push(d));
    proc.child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    expect(await proc.exited, err).to.equal(0);
    expect(Buffer.concat(chunks).equals(songs[0]!.pcm)).to.equal(true);
    expect(err).to.include(
      "raw PCM 22.05 kHz mono 8-bit: pipe into aplay -t raw -f U8 -r 22050 -c 1",
    );
  });

  it("--out speaker plays on the sound card (ALSA's null device); with none it says so", async () => {
    const nullConf = path.join(dir, "null-alsa.conf");
    const badConf = path.join(dir, "bad-alsa.conf");
    writeFileSync(nullConf, "pcm.!default { type null }\n");
    writeFileSync(badConf, "pcm.!default { type hw card 9 }\n");
    const ok = await run(["play", "one", "--out", "speaker", "--user", "Someone"], {
      ...env,
      ALSA_CONFIG_PATH: nullConf,
    });
    expect(ok.code, ok.out).to.equal(0);
    expect(ok.out).to.include("chorus: audio output: sound card (speaker)\n");
    const none = await run(["play", "one", "--out", "speaker", "--user", "Someone"], {
      ...env,
      ALSA_CONFIG_PATH: badConf,
    });
    expect(none.code).to.equal(1);
    expect(none.out).to.equal(
      "chorus: cannot use the sound card: no usable sound device (cannot open device default)\n",
    );
    // By default, with no device and stdout a pipe: raw PCM, and the reason, once.
    const auto = await run(["play", "one", "--user", "Someone"], {
      ...env,
      ALSA_CONFIG_PATH: badConf,
    });
    expect(auto.code).to.equal(0);
    expect(auto.out).to.include(
      "chorus: audio output: raw PCM on stdout (no usable sound device (cannot open device default))\n",
    );
  });

  it("Ctrl-C mid-song exits 130, leaves a valid WAV and logs out", async () => {
    const wav = path.join(dir, "int.wav");
    const proc = sys.run(["play", "two", "--out", wav, "--user", "Someone"], client, env);
    proc.child.stdin?.end();
    await waitFor(() => proc.output().includes("playing"), "the song to play");
    // Some audio written past the WAV header, so there is something to keep.
    await waitFor(() => existsSync(wav) && statSync(wav).size > 44 + 1000, "audio in the WAV");
    proc.child.kill("SIGINT");
    expect(await proc.exited).to.equal(130);
    const back = readWav(wav);
    expect(back.data.length).to.be.above(0);
    expect(back.data.equals(songs[1]!.pcm.subarray(0, back.data.length))).to.equal(true);
    const nc = await sys.connect();
    const auth = (await sys.nodes(nc)).filter((n) => n.kind === "auth");
    expect(auth.reduce((s, n) => s + n.load, 0)).to.equal(0);
  });

  it("bad input: one readable line on stderr and a non-zero exit", async () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [
        ["player", "--user", "Someone"],
        env,
        /^chorus: chorus player needs a terminal; use chorus play SONG in scripts\n$/,
      ],
      [
        ["play", "one", "--user", "Someone"],
        { CHORUS_PASSWORD: "wrong" },
        /^chorus: wrong user name or password\n$/,
      ],
      [
        ["play", "nope", "--out", "null", "--user", "Someone"],
        env,
        /^chorus: unknown song "nope" \(chorus songs lists them\)\n$/,
      ],
      [
        ["play", "one", "--out", "/no/such/dir/x.wav", "--user", "Someone"],
        env,
        /^chorus: cannot write \/no\/such\/dir\/x\.wav: ENOENT\n$/,
      ],
      [
        ["play", "one", "--from", "ten", "--user", "Someone"],
        env,
        /^chorus: --from must be a number of seconds, got "ten"\n$/,
      ],
      [
        ["play", "one", "--from", "99", "--out", "null", "--user", "Someone"],
        env,
        /^chorus: --from 99 is past the end of "one" \(0:01\)\n$/,
      ],
      [["play", "one", "--password", "x"], env, /^chorus: .*--password.*\n$/],
      [
        ["songs", "--user", "Someone"],
        {},
        /^chorus: no terminal to ask for a password: use --password-stdin or CHORUS_PASSWORD\n$/,
      ],
      [
        ["play", "one", "--user", "Someone", "--nats", "nats://127.0.0.1:1"],
        env,
        /^chorus: cannot reach the broker at nats:\/\/127\.0\.0\.1:1/,
      ],
      [
        ["play", "--user", "Someone"],
        env,
        /^chorus: give one song: chorus play SONG \(see chorus songs\)\n$/,
      ],
    ];
    for (const [args, extra, expected] of cases) {
      const { code, out } = await run(args, extra);
      expect(code, `${args.join(" ")}: ${out}`).to.equal(1);
      expect(out, args.join(" ")).to.match(expected);
    }
  });
});
