/**
 * Who is logging in. The user name comes from --user (or a prompt); the
 * password from --password-stdin, CHORUS_PASSWORD, or a prompt that does not
 * echo — never from a flag, so it shows in no process list or shell history.
 */
import type { Credentials } from "../client/player/types.js";
import { ChorusError } from "../wire/errors.js";
import type { FlagSpec, FlagValues } from "./command.js";
import { prompt } from "./prompt.js";

export type { Credentials };

export const credentialFlags: FlagSpec = {
  user: { type: "string", short: "u" },
  "password-stdin": { type: "boolean" },
};

export const credentialUsage = `  --user NAME        who logs in (asked when missing)
  --password-stdin   read the password from stdin (else CHORUS_PASSWORD, else asked)`;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  let text: string;
  try {
    text = strictUtf8.decode(Buffer.concat(chunks));
  } catch {
    throw new ChorusError("BAD_REQUEST", "the password on stdin is not valid UTF-8");
  }
  return text.split(/\r?\n/)[0] ?? "";
}

/**
 * A password from `--password-stdin`, else CHORUS_PASSWORD, else a prompt
 * with no echo (asked twice when `confirm`). Never from the command line.
 */
export async function readPassword(
  flags: FlagValues,
  question: string,
  confirm = false,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (flags["password-stdin"]) return readStdinLine();
  if (env.CHORUS_PASSWORD) return env.CHORUS_PASSWORD;
  const first = await prompt(question, true);
  if (confirm && (await prompt("Password again: ", true)) !== first) {
    throw new ChorusError("BAD_REQUEST", "the two passwords differ");
  }
  return first;
}

export async function getCredentials(
  flags: FlagValues,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Credentials> {
  const user = typeof flags.user === "string" ? flags.user : await prompt("User: ", false);
  if (!user.trim()) throw new ChorusError("BAD_REQUEST", "no user name given");
  const password = await readPassword(flags, `Password for ${user}: `, false, env);
  if (!password) throw new ChorusError("BAD_REQUEST", "no password given");
  return { user, password };
}
