/**
 * `chorus`: parses flags and dispatches to a command. Errors end as one
 * readable line on stderr and a non-zero exit code.
 */
import { parseArgs } from "node:util";
import { configFlags } from "../actors/runtime/config.js";
import { ChorusError } from "../wire/errors.js";
import type { Command } from "./command.js";
import { commands } from "./commands/index.js";

const commonUsage = `Common options (also as environment variables, see the README):
  --nats URL         broker URL (CHORUS_NATS, default nats://127.0.0.1:4222)
  --data DIR         data folder (CHORUS_DATA, default ./.chorus)
  --music DIR        music folder (CHORUS_MUSIC, default ./music)
  --config FILE      JSON config file (CHORUS_CONFIG)
  --ca FILE          the deployment's CA certificate, for a machine without the
                     actor secret (CHORUS_CA; a copy of DATA/tls/ca.pem)
  -h, --help         this help`;

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `Chorus: a distributed music-streaming service on NATS.

Usage: chorus COMMAND [options]

Commands:
${lines.join("\n")}

Run "chorus COMMAND --help" for a command's options.
${commonUsage}
`;
}

function find(name: string): Command | undefined {
  return commands.find((c) => c.name === name);
}

export async function runCli(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (!first || first === "-h" || first === "--help" || first === "help") {
    process.stdout.write(mainHelp());
    return first ? 0 : 2;
  }
  // Two-word commands such as "user add".
  const twoWords = rest[0] && !rest[0].startsWith("-") ? find(`${first} ${rest[0]}`) : undefined;
  const command = twoWords ?? find(first);
  if (!command) {
    process.stderr.write(`chorus: unknown command "${first}" (see chorus --help)\n`);
    return 2;
  }
  const parsed = parseArgs({
    args: twoWords ? rest.slice(1) : rest,
    options: { ...configFlags, help: { type: "boolean", short: "h" }, ...command.options },
    allowPositionals: true,
    strict: true,
  });
  if (parsed.values.help) {
    process.stdout.write(`${command.usage}\n\n${commonUsage}\n`);
    return 0;
  }
  return command.run(parsed.values, parsed.positionals);
}

export function errorLine(err: unknown): string {
  if (err instanceof ChorusError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
