/**
 * The sound card through the optional `speaker` module. With no usable
 * device, speaker aborts the whole process from C (an ALSA assertion), so a
 * child process opens the device first; only when that child exits cleanly
 * does this process load the module (even loading it aborts without a
 * device: the native binding queries ALSA when it loads).
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import type { Writable } from "node:stream";
import { ChorusError } from "../../wire/errors.js";
import type { PcmFormat } from "./format.js";
import type { AudioOutput, AudioSink } from "./output.js";

interface SpeakerOptions {
  channels: number;
  bitDepth: number;
  sampleRate: number;
  float?: boolean;
  signed?: boolean;
}
type SpeakerClass = new (options: SpeakerOptions) => Writable & { close(flush: boolean): void };

const require = createRequire(import.meta.url);

/** The speaker module's path, or undefined when it is not installed. Never loads it. */
function speakerPath(): string | undefined {
  try {
    return require.resolve("speaker");
  } catch {
    return undefined;
  }
}

export type Probe = { ok: true } | { ok: false; reason: string };

const cached = new Map<string, Promise<Probe>>();

/** Can this process open the sound card? Asked once per ALSA configuration. */
export function probeSpeaker(timeoutMs = 5000): Promise<Probe> {
  const key = process.env.ALSA_CONFIG_PATH ?? "";
  let probe = cached.get(key);
  if (!probe) {
    probe = runProbe(timeoutMs);
    cached.set(key, probe);
  }
  return probe;
}

async function runProbe(timeoutMs: number): Promise<Probe> {
  const modulePath = speakerPath();
  if (!modulePath) {
    return { ok: false, reason: "the speaker module is not installed (it needs libasound2-dev)" };
  }
  // Without ALSA's own config override and without /proc/asound there is no card to try.
  if (!process.env.ALSA_CONFIG_PATH && !(await hasSoundCard())) {
    return { ok: false, reason: "no sound device" };
  }
  const code = `
    const Speaker = require(${JSON.stringify(modulePath)});
    const s = new Speaker({ channels: 2, bitDepth: 16, sampleRate: 44100 });
    s.on("error", (e) => { console.error(e.message); process.exit(3); });
    s.on("close", () => process.exit(0));
    s.end(Buffer.alloc(4096));`;
  return new Promise<Probe>((resolve) => {
    const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => resolve({ ok: false, reason: e.message }));
    child.on("exit", (status, signal) => {
      clearTimeout(timer);
      if (status === 0) {
        resolve({ ok: true });
        return;
      }
      if (/Cannot find module|bindings|\.node/.test(err) && status !== null) {
        resolve({
          ok: false,
          reason: "the speaker module did not build (it needs libasound2-dev)",
        });
        return;
      }
      // mpg123's ALSA module says why ("cannot open device default") before the abort.
      const said = /error: (.*)/.exec(err)?.[1] ?? err.trim().split("\n").pop() ?? "";
      const why =
        signal === "SIGKILL" ? "the device test hung" : said || `exit ${status ?? signal}`;
      resolve({ ok: false, reason: `no usable sound device (${why})` });
    });
  });
}

async function hasSoundCard(): Promise<boolean> {
  const { readFile } = await import("node:fs/promises");
  try {
    const cards = await readFile("/proc/asound/cards", "utf8");
    return !/no soundcards/i.test(cards) && cards.trim().length > 0;
  } catch {
    return false;
  }
}

export class SpeakerOutput implements AudioOutput {
  readonly kind = "speaker" as const;
  readonly description = "audio output: sound card (speaker)";

  private constructor(private readonly Speaker: SpeakerClass) {}

  /** Probes the device; throws a readable error when it cannot be used. */
  static async create(): Promise<SpeakerOutput> {
    const probe = await probeSpeaker();
    if (!probe.ok)
      throw new ChorusError("UNAVAILABLE", `cannot use the sound card: ${probe.reason}`);
    const modulePath = speakerPath() as string;
    return new SpeakerOutput(require(modulePath) as SpeakerClass);
  }

  async open(format: PcmFormat): Promise<AudioSink> {
    const speaker = new this.Speaker({
      channels: format.channels,
      bitDepth: format.bitDepth,
      sampleRate: format.sampleRate,
      float: format.float ?? false,
      signed: format.bitDepth !== 8,
    });
    let failure: Error | undefined;
    speaker.on("error", (err: Error) => (failure = err));
    return {
      write: (pcm) =>
        new Promise<void>((resolve, reject) => {
          if (failure) {
            reject(new ChorusError("UNAVAILABLE", `sound card: ${failure.message}`));
            return;
          }
          speaker.write(pcm, (err) =>
            err ? reject(new ChorusError("UNAVAILABLE", `sound card: ${err.message}`)) : resolve(),
          );
        }),
      close: () =>
        new Promise<void>((resolve) => {
          // Do not wait for the device to drain on stop/seek: close drops what is queued.
          speaker.once("close", () => resolve());
          try {
            speaker.close(false);
          } catch {
            resolve();
          }
          setTimeout(resolve, 500).unref();
        }),
    };
  }

  async close(): Promise<void> {}
}
