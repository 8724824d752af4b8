/**
 * Raw PCM on stdout, to pipe into `aplay`. The format of each song is told on
 * stderr (with the matching aplay flags), since raw PCM carries no header.
 */
import type { Writable } from "node:stream";
import { ChorusError } from "../../wire/errors.js";
import { aplayArgs, describeFormat, type PcmFormat } from "./format.js";
import type { AudioOutput, AudioSink } from "./output.js";

export class StdoutOutput implements AudioOutput {
  readonly kind = "stdout" as const;
  readonly description: string;
  private broken?: Error;
  private lastFormat = "";

  constructor(
    why = "",
    private readonly out: Writable = process.stdout,
    private readonly note: (line: string) => void = (l) => process.stderr.write(l + "\n"),
  ) {
    this.description = `audio output: raw PCM on stdout${why ? ` (${why})` : ""}`;
    // A reader that goes away (aplay quit) must end playback, not crash us.
    out.on("error", (err: Error) => {
      this.broken = err;
    });
  }

  async open(format: PcmFormat): Promise<AudioSink> {
    const key = JSON.stringify(format);
    if (key !== this.lastFormat) {
      this.lastFormat = key;
      this.note(`raw PCM ${describeFormat(format)}: pipe into ${aplayArgs(format)}`);
    }
    return {
      write: (pcm) => this.write(pcm),
      close: async () => undefined,
    };
  }

  private write(pcm: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.broken) {
        reject(new ChorusError("UNAVAILABLE", `stdout closed: ${this.broken.message}`));
        return;
      }
      // The callback fires once the bytes are handed to the OS: that is our back-pressure.
      this.out.write(pcm, (err) => {
        if (err) reject(new ChorusError("UNAVAILABLE", `stdout closed: ${err.message}`));
        else resolve();
      });
    });
  }

  async close(): Promise<void> {}
}
