import { expect } from "chai";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Catalogue, songIdOf } from "../actors/file/catalogue.js";
import { createLogger } from "../actors/runtime/log.js";
import { copyDemoMusic, toneWav } from "../harness/fixtures/file.js";

describe("file nodes: the catalogue (real WAV files)", () => {
  let folder: string;
  let catalogue: Catalogue;

  beforeEach(() => {
    folder = mkdtempSync(path.join(tmpdir(), "chorus-music-"));
    catalogue = new Catalogue(folder, createLogger("test-catalogue"));
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  it("lists the demo songs with their INFO titles and formats, read from headers", async () => {
    copyDemoMusic(folder);
    const songs = await catalogue.list();
    const byFile = Object.fromEntries(songs.map((s) => [s.file, s]));
    expect(byFile["chorus-theme.wav"]).to.deep.include({
      title: "Chorus Theme",
      format: { sampleRate: 44100, channels: 2, bitDepth: 16 },
      duration: 3.2,
    });
    expect(byFile["mono-lullaby.wav"]?.format).to.include({ sampleRate: 22050, channels: 1 });
    expect(byFile["eight-bit-dance.wav"]?.format).to.include({ bitDepth: 8 });
    expect(byFile["deep-24bit-drone.wav"]?.format).to.include({ bitDepth: 24, channels: 2 });
    for (const s of songs)
      expect(s.id)
        .to.equal(songIdOf(s.file))
        .and.match(/^[A-Za-z0-9_-]+$/);
  });

  it("shows files added, replaced and removed in the next listing; untitled files use their name", async () => {
    expect(await catalogue.list()).to.deep.equal([]);
    writeFileSync(path.join(folder, "first.wav"), toneWav(1, { rate: 8000, channels: 1 }));
    expect((await catalogue.list()).map((s) => [s.title, s.duration])).to.deep.equal([
      ["first", 1],
    ]);
    // Replaced (a new file renamed over it, as editors and copy tools do).
    writeFileSync(path.join(folder, "tmp"), toneWav(2, { rate: 8000, channels: 1, title: "New" }));
    renameSync(path.join(folder, "tmp"), path.join(folder, "first.wav"));
    expect((await catalogue.list()).map((s) => [s.title, s.duration])).to.deep.equal([["New", 2]]);
    writeFileSync(path.join(folder, "second.WAV"), toneWav(1, { rate: 8000, channels: 1 }));
    expect(await catalogue.list()).to.have.length(2);
    rmSync(path.join(folder, "first.wav"));
    expect((await catalogue.list()).map((s) => s.file)).to.deep.equal(["second.WAV"]);
  });

  it("lists a music folder that does not exist as empty", async () => {
    const missing = new Catalogue(path.join(folder, "nope"), createLogger("test-catalogue"));
    expect(await missing.list()).to.deep.equal([]);
  });
});
