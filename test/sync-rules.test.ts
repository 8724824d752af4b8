import { expect } from "chai";
import { mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "../actors/runtime/log.js";
import { Manifest } from "../actors/sync/manifest.js";
import { conflictName, isSafeName, maxNameBytes, unsafeReason } from "../wire/safe-names.js";
import { byName, planPulls, planPushes, type NodeFiles } from "../actors/sync/plan.js";
import { wavStateOf } from "../actors/sync/wav.js";
import { wavHeader, writeWav } from "../harness/fixtures/sync.js";

const entry = (name: string, hash = "a".repeat(64)) => ({ name, size: 100, hash });

describe("music sync rules", () => {
  it("accepts only safe music file names (.wav, .flac, .mp3, .ogg, .opus, .m4a)", () => {
    for (const ok of [
      "song.wav",
      "Song Two.WAV",
      "ünï cödé.wav",
      "a.b.wav",
      "x (conflict host-1).wav",
      "track.flac",
      "Live.MP3",
      "a.ogg",
      "b.opus",
      "c.m4a",
    ]) {
      expect(unsafeReason(ok), ok).to.equal(undefined);
    }
    const bad: Array<[string, RegExp]> = [
      ["", /empty/],
      ["../evil.wav", /separator|\.\./],
      ["a/b.wav", /separator/],
      ["a\\b.wav", /separator/],
      ["x\0.wav", /NUL/],
      ["bad..name.wav", /\.\./],
      [".hidden.wav", /hidden/],
      ["line\nbreak.wav", /control/],
      [" padded.wav", /spaces/],
      ["notes.txt", /not a music file/],
      ["song.wav.exe", /not a music file/],
      ["cover.jpg", /not a music file/],
      ["x".repeat(maxNameBytes) + ".wav", /longer/],
    ];
    for (const [name, reason] of bad)
      expect(unsafeReason(name), JSON.stringify(name)).to.match(reason);
  });

  it("makes conflict names that are safe, distinct and within the length limit", () => {
    expect(conflictName("song.wav", "host-1")).to.equal("song (conflict host-1).wav");
    expect(conflictName("song.wav", "host-1", 2)).to.equal("song (conflict host-1 2).wav");
    const long = conflictName("é".repeat(99) + ".wav", "host-123456789");
    expect(isSafeName(long)).to.equal(true);
    expect(Buffer.byteLength(long)).to.be.at.most(maxNameBytes);
  });

  it("tells a complete WAV from a partial copy and from other files", () => {
    const header = wavHeader(1000);
    expect(wavStateOf(header, 1044)).to.equal("ok");
    expect(wavStateOf(header, 1100)).to.equal("ok");
    expect(wavStateOf(header, 500)).to.equal("incomplete");
    expect(wavStateOf(Buffer.from("ID3\x03 not a wav at all"), 1044)).to.equal("not-wav");
    expect(wavStateOf(header.subarray(0, 8), 1044)).to.equal("not-wav");
  });

  it("plans pulls once per name from the first plane, pushes what a plane lacks or holds differently", () => {
    const prime = byName([entry("shared.wav"), entry("only-prime.wav")]);
    const a: NodeFiles = {
      id: "plane-a",
      host: "ha",
      files: byName([entry("shared.wav"), entry("new.wav", "b".repeat(64))]),
    };
    const b: NodeFiles = {
      id: "plane-b",
      host: "hb",
      files: byName([entry("shared.wav", "c".repeat(64)), entry("new.wav", "d".repeat(64))]),
    };
    const pulls = planPulls(prime, [a, b]);
    expect(pulls.map((m) => [m.entry.name, m.plane.id, m.entry.hash[0]])).to.deep.equal([
      ["new.wav", "plane-a", "b"],
    ]);
    prime.set("new.wav", entry("new.wav", "b".repeat(64)));
    expect(planPushes(prime, a).map((m) => [m.entry.name, m.conflict])).to.deep.equal([
      ["only-prime.wav", false],
    ]);
    expect(planPushes(prime, b).map((m) => [m.entry.name, m.conflict])).to.deep.equal([
      ["shared.wav", true],
      ["only-prime.wav", false],
      ["new.wav", true],
    ]);
  });

  describe("manifest", () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "chorus-manifest-"))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("lists safe complete WAV files with their hash, and hashes each only once", async () => {
      const hash = await writeWav(path.join(dir, "a.wav"), 50_000);
      await writeWav(path.join(dir, "b.WAV"), 20_000);
      await writeWav(path.join(dir, ".hidden.wav"), 1000);
      writeFileSync(path.join(dir, "fake.wav"), "not a wav file, just text");
      writeFileSync(path.join(dir, "notes.txt"), "hello");
      // A copy still under way: the header promises more than the file holds.
      writeFileSync(
        path.join(dir, "partial.wav"),
        Buffer.concat([wavHeader(100_000), Buffer.alloc(10)]),
      );
      await mkdir(path.join(dir, "folder.wav"));
      symlinkSync(path.join(dir, "a.wav"), path.join(dir, "link.wav"));
      const manifest = new Manifest(dir, createLogger("test"));
      const first = await manifest.scan();
      expect(first.map((f) => f.name)).to.deep.equal(["a.wav", "b.WAV"]);
      expect(first[0]).to.deep.equal({ name: "a.wav", size: 50_000, hash });
      expect(manifest.hashedLastScan).to.equal(2);
      await manifest.scan();
      expect(manifest.hashedLastScan).to.equal(0);
      // A new modification time means new content may be there: hash again.
      const later = new Date(Date.now() + 5000);
      utimesSync(path.join(dir, "a.wav"), later, later);
      await manifest.scan();
      expect(manifest.hashedLastScan).to.equal(1);
    });
  });
});
