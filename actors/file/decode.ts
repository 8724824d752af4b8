/**
 * Decoding a song to PCM with Debian's ffmpeg, as a child process whose
 * stdout we read with backpressure. A decoder starts at an exact frame:
 * ffmpeg's input seek is sample-accurate for FLAC; Opus and AAC need the
 * packets before a seek point (pre-roll), so we seek a little earlier and
 * drop exactly the frames before it; where ffmpeg's seek timestamps are not
 * exact (Ogg Vorbis, MP3) we decode from the start and drop frames up to it
 * (about 300 to 1000 times real time here, so a late seek costs a little).
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import type { DecodedLayout } from "./tags.js";

/** Pre-roll before a seek point for lossy codecs (MP3 and AAC need a frame or two, Opus 80 ms). */
const prerollSeconds = 0.2;
/** Decoded PCM a decoder holds ahead of its reader before it pauses ffmpeg. */
const highWaterBytes = 1 << 20;
const stderrKeep = 2000;

/** ffmpeg failed to decode; `message` carries its own reason. */
export class DecodeError extends Error {
  override name = "DecodeError";
}

/** The ffmpeg on PATH, or undefined when there is none. */
export function findFfmpeg(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, "ffmpeg");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** ffmpeg's raw PCM muxer for each depth: WAV's conventions (8-bit unsigned, else signed LE). */
const muxers: Record<DecodedLayout["bitDepth"], string> = {
  8: "u8",
  16: "s16le",
  24: "s24le",
  32: "s32le",
};

/** Seconds as ffmpeg reads them: to the microsecond, well under half a sample at up to 192 kHz. */
function seconds(frame: number, rate: number): string {
  return (frame / rate).toFixed(6);
}

export function decodeArgs(
  file: string,
  layout: DecodedLayout,
  fromFrame: number,
): { args: string[]; dropFrames: number } {
  const preroll = !layout.inputSeek
    ? fromFrame
    : layout.lossy
      ? Math.round(prerollSeconds * layout.sampleRate)
      : 0;
  const dropFrames = Math.min(fromFrame, preroll);
  const start = fromFrame - dropFrames;
  const args = ["-nostdin", "-hide_banner", "-v", "error"];
  if (start > 0) args.push("-ss", seconds(start, layout.sampleRate));
  args.push("-i", file, "-map", "0:a:0", "-vn", "-f", muxers[layout.bitDepth]);
  args.push("-ac", String(layout.channels), "-ar", String(layout.sampleRate), "pipe:1");
  return { args, dropFrames };
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

/** One running ffmpeg decoding a song from a frame on. */
export class Decoder {
  private readonly parts: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private dropBytes: number;
  private stderr = "";
  private failure?: string;
  /** We killed it: its early end is ours, not a decoding failure. */
  private killed = false;
  private wake?: () => void;
  private readonly exited: Promise<number | string>;

  private constructor(
    private readonly child: Child,
    dropBytes: number,
  ) {
    this.dropBytes = dropBytes;
    this.exited = new Promise((resolve) =>
      child.once("close", (code, signal) => resolve(code ?? signal ?? -1)),
    );
    child.stdout.on("data", (data: Buffer) => this.take(data));
    child.stdout.once("end", () => this.finish());
    child.stderr.on("data", (d: Buffer) => {
      if (this.stderr.length < stderrKeep) this.stderr += d.toString();
    });
    child.once("error", (err) => {
      this.failure = `cannot run ffmpeg: ${err.message}`;
      this.finish();
    });
  }

  static start(ffmpeg: string, file: string, layout: DecodedLayout, fromFrame: number): Decoder {
    const { args, dropFrames } = decodeArgs(file, layout, fromFrame);
    const child = spawn(ffmpeg, args, { stdio: ["ignore", "pipe", "pipe"] });
    return new Decoder(child, dropFrames * layout.blockAlign);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * The next `bytes` bytes of PCM, or fewer when the decoder reached the end.
   * Throws DecodeError when ffmpeg failed before the end.
   */
  async read(bytes: number): Promise<Buffer> {
    while (this.buffered < bytes && !this.ended) {
      this.child.stdout.resume();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.buffered < bytes) await this.checkExit();
    const all = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
    const out = all.subarray(0, Math.min(bytes, all.length));
    const rest = all.subarray(out.length);
    this.parts.length = 0;
    if (rest.length) this.parts.push(rest);
    this.buffered = rest.length;
    if (this.buffered < highWaterBytes) this.child.stdout.resume();
    return out;
  }

  /** Stop ffmpeg now (a stop, pause, seek or end); nothing it still has matters. */
  kill(): Promise<void> {
    this.killed = true;
    // A child that never started (no ffmpeg) has nothing to wait for.
    if (this.child.pid === undefined) return Promise.resolve();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    return this.exited.then(() => undefined);
  }

  private take(data: Buffer): void {
    if (this.dropBytes > 0) {
      const dropped = Math.min(this.dropBytes, data.length);
      this.dropBytes -= dropped;
      data = data.subarray(dropped);
      if (data.length === 0) return;
    }
    this.parts.push(data);
    this.buffered += data.length;
    if (this.buffered >= highWaterBytes) this.child.stdout.pause();
    this.notify();
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async checkExit(): Promise<void> {
    if (this.killed) return;
    if (this.failure) throw new DecodeError(this.failure);
    const code = await this.exited;
    if (code !== 0) {
      const reason = this.stderr.trim().split("\n").pop() ?? "";
      throw new DecodeError(`ffmpeg failed (${code})${reason ? `: ${reason}` : ""}`);
    }
  }
}

/**
 * Does the song decode up to where its header says it ends? A truncated file
 * (a copy cut short) has a header promising more audio than it holds; we
 * decode the last half second (cheaply: mono, 8 kHz) and want most of it.
 * Returns why not, or undefined when it does.
 */
export async function endDecodes(
  ffmpeg: string,
  file: string,
  duration: number,
  timeoutMs = 10_000,
): Promise<string | undefined> {
  const window = Math.min(0.5, duration / 2);
  const from = Math.max(0, duration - window);
  const rate = 8000;
  const args = ["-nostdin", "-hide_banner", "-v", "error", "-ss", from.toFixed(6), "-i", file];
  args.push("-map", "0:a:0", "-vn", "-t", window.toFixed(6), "-f", "s16le", "-ac", "1");
  args.push("-ar", String(rate), "pipe:1");
  const child = spawn(ffmpeg, args, { stdio: ["ignore", "pipe", "pipe"] });
  let bytes = 0;
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (bytes += d.length));
  child.stderr.on("data", (d: Buffer) => {
    if (stderr.length < stderrKeep) stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | string>((resolve) => {
    child.once("error", (err) => resolve(err.message));
    child.once("close", (c, signal) => resolve(c ?? signal ?? -1));
  }).finally(() => clearTimeout(timer));
  const wanted = window * rate * 2;
  if (bytes >= wanted / 4) return undefined;
  const reason =
    stderr
      .trim()
      .split("\n")[0]
      ?.replace(/^\[[^\]]*\]\s*/, "") ?? "";
  if (code === "SIGKILL") return "decoding its end took too long";
  return `truncated or corrupt: its audio ends before the ${duration.toFixed(2)} s its header promises${
    reason ? ` (ffmpeg: ${reason.slice(0, 200)})` : ""
  }`;
}
