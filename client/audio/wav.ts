/**
 * WAV file output: a header written first with sizes patched when the song
 * ends (or the player stops), so the file is valid for any player even after
 * Ctrl-C. Each song opened on the output rewrites the file.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { open as openFile, type FileHandle } from "node:fs/promises";
import path from "node:path";
import wavefile from "wavefile";
import { ChorusError } from "../../wire/errors.js";
import type { PcmFormat } from "./format.js";
import type { AudioOutput, AudioSink } from "./output.js";

const { WaveFile } = wavefile;
const headerBytes = 44;

/** The 44-byte canonical header for `format`, with sizes for `dataBytes`. */
export function wavHeader(format: PcmFormat, dataBytes: number): Buffer {
  const wav = new WaveFile();
  const code = format.float ? "32f" : String(format.bitDepth);
  wav.fromScratch(format.channels, format.sampleRate, code, []);
  const header = Buffer.from(wav.toBuffer()).subarray(0, headerBytes);
  header.writeUInt32LE(headerBytes - 8 + dataBytes, 4);
  header.writeUInt32LE(dataBytes, 40);
  return header;
}

/** Throws a readable error unless `file` can be created or overwritten. */
export function checkWritable(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, "a");
  } catch (err) {
    throw new ChorusError(
      "BAD_REQUEST",
      `cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  closeSync(fd);
}

class WavSink implements AudioSink {
  private written = 0;
  private closed = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly fh: FileHandle,
    private readonly format: PcmFormat,
  ) {}

  write(pcm: Uint8Array): Promise<void> {
    // Serialised: positional writes must land in order.
    const at = headerBytes + this.written;
    this.written += pcm.length;
    this.queue = this.queue.then(async () => {
      await this.fh.write(pcm, 0, pcm.length, at);
    });
    return this.queue;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    await this.fh.write(wavHeader(this.format, this.written), 0, headerBytes, 0);
    await this.fh.close();
  }

  /** For exit paths that cannot await: patch the header synchronously. */
  closeNow(fd: number): void {
    if (this.closed) return;
    writeSync(fd, wavHeader(this.format, this.written), 0, headerBytes, 0);
  }

  get fd(): number {
    return this.fh.fd;
  }
}

export class WavOutput implements AudioOutput {
  readonly kind = "wav" as const;
  readonly description: string;
  private current?: WavSink;

  constructor(
    readonly file: string,
    why = "",
  ) {
    checkWritable(file);
    this.description = `audio output: WAV file ${path.resolve(file)}${why ? ` (${why})` : ""}`;
  }

  async open(format: PcmFormat): Promise<AudioSink> {
    await this.current?.close();
    let fh: FileHandle;
    try {
      fh = await openFile(this.file, "w");
    } catch (err) {
      throw new ChorusError("BAD_REQUEST", `cannot write ${this.file}: ${(err as Error).message}`);
    }
    await fh.write(wavHeader(format, 0), 0, headerBytes, 0);
    this.current = new WavSink(fh, format);
    return this.current;
  }

  async close(): Promise<void> {
    await this.current?.close();
  }

  /** Make the file valid on a synchronous exit path (crash, second Ctrl-C). */
  finishSync(): void {
    const sink = this.current;
    if (!sink) return;
    try {
      sink.closeNow(sink.fd);
    } catch {
      // Best effort: the process is going away.
    }
  }
}
