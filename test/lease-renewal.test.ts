/**
 * What a listener hears across its broker identity's renewals: the broker
 * drops the session's connection at each JWT's expiry and the player comes
 * back at once with the renewed one. A real `chorus play` over several
 * leases writes the song bit-exact, in about real time, without telling the
 * listener the broker was lost.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ChorusConfig } from "../actors/runtime/config.js";
import {
  demoUser,
  formats,
  readWav,
  startSystem,
  writeSong,
  type TestSong,
} from "../harness/fixtures/player.js";
import type { TestSystem } from "../harness/system.js";

describe("a session's broker identity renewed while it plays (real processes)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let songs: TestSong[];
  let client: ChorusConfig;
  let dir: string;
  /** Short leases: the song outlasts several. */
  const leaseMs = 2000;
  const seconds = 8;

  before(async () => {
    ({ sys, songs, client } = await startSystem(
      (music) => [writeSong(music, "long.wav", seconds, formats.cd, 21)],
      { brokerLeaseMs: leaseMs },
    ));
    dir = mkdtempSync(path.join(tmpdir(), "chorus-lease-"));
  });
  after(async () => {
    await sys?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("plays a song over several leases bit-exact, in real time, never saying the broker was lost", async () => {
    const wav = path.join(dir, "long-out.wav");
    const started = Date.now();
    const proc = sys.run(["play", "long", "--out", wav, "--user", "Someone"], client, {
      CHORUS_PASSWORD: demoUser.password,
    });
    proc.child.stdin?.end();
    expect(await proc.exited, proc.output()).to.equal(0);
    const tookS = (Date.now() - started) / 1000;
    expect(readWav(wav).data.equals(songs[0]!.pcm), "the song, bit-exact").to.equal(true);
    // Start-up (a login, a node spawned) plus the song: a stall at a renewal would add to it.
    expect(tookS, "seconds from start to the end of the song").to.be.below(seconds + 4);
    // A renewal is not announced as a lost broker (a recovery that needed a second try may say so).
    expect(proc.output()).not.to.match(/lost the broker/);
  });
});
