/** The shape of one `chorus` command; cli.ts parses flags and dispatches. */
import type { ParseArgsConfig } from "node:util";

export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  name: string;
  /** One line for `chorus --help`. */
  summary: string;
  /** Usage and option lines for `chorus NAME --help`. */
  usage: string;
  options?: FlagSpec;
  /** Resolves with the exit code. */
  run(flags: FlagValues, args: string[]): Promise<number>;
}
