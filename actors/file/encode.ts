/**
 * Encoding a song to Ogg Opus with Debian's ffmpeg (libopus) as a child
 * process, read from its stdout as it goes, so a first play can stream the
 * packets while the rest of the song is still being encoded. 20 ms packets
 * (libopus's default, named anyway): the seek granularity. ffmpeg
 * encodes far faster than real time, so the encode stays ahead of every
 * listener of it.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import { DecodeError } from "./decode.js";

const stderrKeep = 2000;

export interface EncodeRequest {
  file: string;
  /** 1 or 2: Opus's own channel layouts (more are mixed down to stereo). */
  channels: number;
  bitrate: number;
}

export function encodeArgs(what: EncodeRequest): string[] {
  return [
    ...["-nostdin", "-hide_banner", "-v", "error", "-i", what.file, "-map", "0:a:0", "-vn"],
    ...["-ac", String(what.channels), "-ar", "48000", "-c:a", "libopus"],
    // Constrained VBR: plain VBR ran 30% over its target on real music here
    // (168k for 128k); a level's bytes per listener should be what it says.
    ...["-b:a", String(what.bitrate), "-vbr", "constrained", "-application", "audio"],
    // Short pages, flushed as they are made: a first play need not wait for
    // ffmpeg's 1 s pages and 32 KB output buffer (4 s of audio at 64k). The
    // pages' overhead (about 2.5 kbit/s) stays on disk: streams send packets.
    ...["-frame_duration", "20", "-page_duration", "100000", "-flush_packets", "1"],
    ...["-f", "ogg", "pipe:1"],
  ];
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

/** One running ffmpeg encoder; `data` gets its output in order, `done` its outcome. */
export class Encoder {
  /** Resolves when ffmpeg exited: throws DecodeError when it failed (not when killed). */
  readonly done: Promise<void>;
  private killed = false;
  private stderr = "";

  private constructor(
    private readonly child: Child,
    data: (chunk: Buffer) => void,
  ) {
    child.stdout.on("data", data);
    child.stderr.on("data", (d: Buffer) => {
      if (this.stderr.length < stderrKeep) this.stderr += d.toString();
    });
    this.done = new Promise<void>((resolve, reject) => {
      child.once("error", (err) => reject(new DecodeError(`cannot run ffmpeg: ${err.message}`)));
      child.once("close", (code, signal) => {
        if (code === 0) resolve();
        else if (this.killed) reject(new DecodeError("encoder stopped"));
        else {
          const reason = this.stderr.trim().split("\n").pop() ?? "";
          reject(new DecodeError(`ffmpeg failed (${code ?? signal ?? "?"}): ${reason}`));
        }
      });
    });
    // Nobody need wait for `done` to keep a failure from being unhandled.
    this.done.catch(() => undefined);
  }

  static start(ffmpeg: string, what: EncodeRequest, data: (chunk: Buffer) => void): Encoder {
    const child = spawn(ffmpeg, encodeArgs(what), { stdio: ["ignore", "pipe", "pipe"] });
    return new Encoder(child, data);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Stop the encoder now (the node stops, or the file went away). */
  async kill(): Promise<void> {
    this.killed = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.done.catch(() => undefined);
  }
}
