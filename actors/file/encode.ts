/**
 * Encoding a song to Ogg Opus with Debian's ffmpeg (libopus) as a child
 * process, read from its stdout as it goes, so a first play can stream the
 * packets while the rest of the song is still being encoded. 20 ms packets
 * (libopus's default, named anyway): the seek granularity. ffmpeg
 * encodes far faster than real time, so the encode stays ahead of every
 * listener of it.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { createReadStream } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { DecodeError } from "./decode.js";

const stderrKeep = 2000;

export interface EncodeRequest {
  file: string;
  /** 1 or 2: Opus's own channel layouts (more are mixed down to stereo). */
  channels: number;
  bitrate: number;
}

/** ffmpeg's arguments; `input` is the file, or `pipe:0` for a warm encoder fed on stdin. */
export function encodeArgs(what: Omit<EncodeRequest, "file">, input: string): string[] {
  // -nostdin only when stdin is not the input.
  const stdin = input === "pipe:0" ? [] : ["-nostdin"];
  return [
    ...[...stdin, "-hide_banner", "-v", "error", "-i", input, "-map", "0:a:0", "-vn"],
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

type Child = ChildProcessByStdio<Writable | null, Readable, Readable>;

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
    const child = spawn(ffmpeg, encodeArgs(what, what.file), { stdio: ["ignore", "pipe", "pipe"] });
    return new Encoder(child, data);
  }

  /** A warm encoder (spawned ahead, waiting on stdin) given `file` to encode. */
  static feed(spare: Child, file: string, data: (chunk: Buffer) => void): Encoder {
    const encoder = new Encoder(spare, data);
    const stdin = spare.stdin;
    if (stdin) {
      // A killed encoder closes its stdin under us: that is not an error here.
      stdin.on("error", () => undefined);
      createReadStream(file)
        .on("error", () => stdin.destroy())
        .pipe(stdin);
    }
    return encoder;
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

/**
 * Warm encoders: ffmpeg's own start-up (loading its libraries) is about 60
 * of the 80 ms to its first page here, so a first, uncached play waits for
 * it. The pool keeps one ffmpeg per level and channel count spawned ahead,
 * waiting on stdin, and feeds it the song's file: its first page comes
 * 15-20 ms after. A spare is made when an encode of its kind ends (so a
 * node nobody asks for lossy levels runs none);
 * the node kills them when it stops, and a spare whose node died sees its
 * stdin close and exits.
 */
export class EncoderPool {
  private readonly spares = new Map<string, Child>();
  private closed = false;

  constructor(private readonly ffmpeg: string) {}

  /** An encoder of `what`: a warm spare when there is one (and `pipeable`), else a new ffmpeg. */
  start(what: EncodeRequest, pipeable: boolean, data: (chunk: Buffer) => void): Encoder {
    if (!pipeable) return Encoder.start(this.ffmpeg, what, data);
    const kind = `${what.channels}/${what.bitrate}`;
    const spare = this.spares.get(kind);
    this.spares.delete(kind);
    const ready = spare && spare.exitCode === null && spare.signalCode === null;
    if (!ready) spare?.kill("SIGKILL");
    const encoder = ready
      ? Encoder.feed(spare, what.file, data)
      : Encoder.start(this.ffmpeg, what, data);
    // The next spare once this encode is over: two ffmpegs starting at once
    // on a small machine made this one's first page later.
    void encoder.done
      .catch(() => undefined)
      .then(() => {
        if (!this.closed && !this.spares.has(kind)) this.spares.set(kind, this.spawnSpare(what));
      });
    return encoder;
  }

  /** Kill every spare (the node stops). */
  close(): void {
    this.closed = true;
    for (const spare of this.spares.values()) spare.kill("SIGKILL");
    this.spares.clear();
  }

  private spawnSpare(what: EncodeRequest): Child {
    const child = spawn(this.ffmpeg, encodeArgs(what, "pipe:0"), {
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.on("error", () => undefined);
    child.stdin.on("error", () => undefined);
    return child;
  }
}
