#!/usr/bin/env node
// Makes sure ffmpeg exists: file nodes decode FLAC, MP3, Ogg Vorbis, Opus and
// AAC/M4A with it (WAV needs nothing). As root on Debian it installs Debian's
// package (npm's ffmpeg binary packages download at install time and fail
// here). Elsewhere it only says how: Chorus still serves WAV without ffmpeg.
// Run on its own (`node scripts/install-ffmpeg.mjs`) or from scripts/setup.mjs.
import { debianRoot, isMain, onPath, run, say } from "./system-packages.mjs";

export function installFfmpeg() {
  if (onPath("ffmpeg")) return;
  if (debianRoot()) {
    say("installing Debian's ffmpeg package (to play FLAC, MP3, Ogg, Opus and M4A)");
    try {
      run("apt-get", ["update", "-qq"]);
      run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "ffmpeg"]);
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

if (isMain(import.meta.url)) {
  installFfmpeg();
}
