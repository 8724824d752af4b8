/**
 * Silence: the audio is dropped. The output clock still runs at real-time
 * pace, so progress, pause and seek behave as with a sound card.
 */
import type { AudioOutput, AudioSink } from "./output.js";

export class NullOutput implements AudioOutput {
  readonly kind = "null" as const;
  readonly description: string;
  constructor(why = "") {
    this.description = `audio output: none, silence at real-time pace${why ? ` (${why})` : ""}`;
  }
  async open(): Promise<AudioSink> {
    return { write: async () => undefined, close: async () => undefined };
  }
  async close(): Promise<void> {}
}
