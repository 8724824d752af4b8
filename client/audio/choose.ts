/**
 * Picking the output from `--out` (FILE.wav, `-`, `null`, `speaker`) or, by
 * default, the sound card when one works — else raw PCM when stdout is a
 * pipe, else a WAV file in the data folder. The caller shows `description`.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { ChorusError } from "../../wire/errors.js";
import { NullOutput } from "./null.js";
import type { AudioOutput } from "./output.js";
import { probeSpeaker, SpeakerOutput } from "./speaker.js";
import { StdoutOutput } from "./stdout.js";
import { WavOutput } from "./wav.js";

export interface ChooseOptions {
  /** Where audio goes when there is no sound card and stdout is not a pipe. */
  fallbackWav: string;
  /** False for the interactive player: its stdout is the screen. */
  stdoutAllowed: boolean;
  stdoutIsTty: boolean;
}

export async function chooseOutput(
  spec: string | undefined,
  options: ChooseOptions,
): Promise<AudioOutput> {
  switch (spec) {
    case "speaker":
      return SpeakerOutput.create();
    case "null":
      return new NullOutput();
    case "-":
      if (!options.stdoutAllowed) {
        throw new ChorusError("BAD_REQUEST", "--out - is not possible here: stdout is the screen");
      }
      return new StdoutOutput();
    case undefined:
    case "":
    case "auto":
      return auto(options);
    default:
      return new WavOutput(spec);
  }
}

async function auto(options: ChooseOptions): Promise<AudioOutput> {
  const probe = await probeSpeaker();
  if (probe.ok) return SpeakerOutput.create();
  if (options.stdoutAllowed && !options.stdoutIsTty) {
    return new StdoutOutput(probe.reason);
  }
  // Our own default place (the data folder) may not exist yet; a path the user gave must.
  try {
    mkdirSync(path.dirname(options.fallbackWav), { recursive: true });
  } catch {
    // WavOutput says what is wrong with the path.
  }
  return new WavOutput(options.fallbackWav, probe.reason);
}
