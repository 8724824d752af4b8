#!/usr/bin/env node
// Makes sure ffmpeg exists: file nodes decode FLAC, MP3, Ogg Vorbis, Opus and
// AAC/M4A with it (WAV needs nothing). As root on Debian it installs Debian's
// package (npm's ffmpeg binary packages download at install time and fail
// here). Elsewhere it only says how: Chorus still serves WAV without ffmpeg.
// Run on its own (`node scripts/install-ffmpeg.mjs`) or from scripts/setup.mjs.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const say = (line) =>
  process.env.CHORUS_SETUP_QUIET === "1" || process.stderr.write(`setup: ${line}\n`);

function onPath(cmd) {
  return (process.env.PATH ?? "")
    .split(path.delimiter)
    .some((dir) => dir && existsSync(path.join(dir, cmd)));
}

export function installFfmpeg() {
  if (onPath("ffmpeg")) return;
  if (process.getuid?.() === 0 && existsSync("/etc/debian_version")) {
    say("installing Debian's ffmpeg package (to play FLAC, MP3, Ogg, Opus and M4A)");
    try {
      execFileSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "inherit", "inherit"] });
      execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "ffmpeg"], {
        stdio: ["ignore", "inherit", "inherit"],
      });
      return;
    } catch {
      say("could not install ffmpeg: only WAV songs will play");
      return;
    }
  }
  say(
    "ffmpeg is not installed: only WAV songs will play. To play FLAC, MP3, Ogg, Opus and M4A: " +
      "`sudo apt-get install ffmpeg` (Debian/Ubuntu) or https://ffmpeg.org/download.html",
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  installFfmpeg();
}
