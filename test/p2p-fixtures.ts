/**
 * Shared by the P2P tests and benchmark: players on a real system, and a
 * recorder that checks every byte a player writes against the song's PCM.
 */
import type { ChorusConfig } from "../actors/config.js";
import { bytesPerSecond } from "../client/audio/format.js";
import { NullOutput } from "../client/audio/null.js";
import { findFileSource } from "../client/file-source.js";
import { Player } from "../client/player.js";
import { demoUser, type TestSong } from "./player-fixtures.js";

export async function startPlayer(config: ChorusConfig, host = true): Promise<Player> {
  return Player.start({
    config,
    credentials: demoUser,
    output: new NullOutput(),
    findSource: findFileSource,
    host,
  });
}

/** Everything a player wrote: where, when, and whether it was the song's bytes. */
export class Recorder {
  pieces = 0;
  bytes = 0;
  wrong = 0;
  firstByte?: number;
  firstAt?: number;
  lastByte = -1;
  /** Position jumps (a join, a seek): piece offsets not following the previous piece. */
  jumps = 0;
  private readonly off: () => void;

  constructor(
    readonly player: Player,
    songs: TestSong[],
    /** Called once at the first written piece (e.g. to read the host's position then). */
    private readonly onFirst?: () => void,
  ) {
    this.off = player.onChange((e) => {
      if (e.kind !== "played") return;
      const now = player.nowPlaying();
      const song = songs.find((s) => s.title === now?.song.title);
      if (this.firstByte === undefined) {
        this.firstByte = e.byte;
        this.firstAt = performance.now();
        this.onFirst?.();
      } else if (e.byte !== this.lastByte) this.jumps++;
      this.lastByte = e.byte + e.pcm.length;
      this.pieces++;
      this.bytes += e.pcm.length;
      const want = song?.pcm.subarray(e.byte, e.byte + e.pcm.length);
      if (!want || !Buffer.from(e.pcm).equals(want)) this.wrong++;
    });
  }

  stop(): void {
    this.off();
  }
}

/** Seconds between two byte offsets of a song. */
export function secondsBetween(song: TestSong, a: number, b: number): number {
  return (a - b) / bytesPerSecond(song.format);
}
