// What the install scripts share: finding a command on PATH, running one,
// and saying what set-up does (quiet with CHORUS_SETUP_QUIET=1).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const say = (line) =>
  process.env.CHORUS_SETUP_QUIET === "1" || process.stderr.write(`setup: ${line}\n`);

export function onPath(cmd) {
  return (process.env.PATH ?? "")
    .split(path.delimiter)
    .some((dir) => dir && existsSync(path.join(dir, cmd)));
}

export function run(cmd, args) {
  execFileSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
}

/** Whether we may install Debian's packages here: root on Debian. */
export function debianRoot() {
  return process.getuid?.() === 0 && existsSync("/etc/debian_version");
}

/** True when `moduleUrl` is the script node was started with (not imported). */
export function isMain(moduleUrl) {
  return Boolean(process.argv[1]) && fileURLToPath(moduleUrl) === path.resolve(process.argv[1]);
}
