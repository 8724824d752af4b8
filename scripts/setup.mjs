#!/usr/bin/env node
// The pre-step of `npm start`, `npm test` and `npm run bench`: installs npm
// dependencies when missing or stale, makes sure nats-server and ffmpeg exist
// (Debian's packages when we are root on Debian), compiles the TypeScript to dist/, and
// synthesises the long demo songs into music/ when they are missing or stale.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { installChromium } from "./install-chromium.mjs";
import { installFfmpeg } from "./install-ffmpeg.mjs";
import { installNatsServer } from "./install-nats.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const quiet = process.env.CHORUS_SETUP_QUIET === "1";
const say = (line) => quiet || process.stderr.write(`setup: ${line}\n`);

function run(cmd, args) {
  execFileSync(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
}

function mtime(file) {
  try {
    return statSync(path.join(root, file)).mtimeMs;
  } catch {
    return 0;
  }
}

// 1. npm dependencies: npm records what it installed in node_modules/.package-lock.json.
const installed = mtime("node_modules/.package-lock.json");
if (!installed || installed < mtime("package-lock.json") || installed < mtime("package.json")) {
  // The optional `speaker` module (the sound card) builds only with ALSA's headers.
  // Installed like nats-server when we are root on Debian; elsewhere the player
  // works without it (WAV file, stdout, silence) and says so.
  if (!existsSync("/usr/include/alsa/asoundlib.h")) {
    if (process.getuid?.() === 0 && existsSync("/etc/debian_version")) {
      say("installing Debian's libasound2-dev (for the optional speaker module)");
      try {
        run("apt-get", ["update", "-qq"]);
        run("apt-get", ["install", "-y", "-qq", "libasound2-dev"]);
      } catch {
        say("could not install libasound2-dev: the player will use a WAV file or stdout");
      }
    } else {
      say("no ALSA headers (libasound2-dev): the player will have no sound card output");
    }
  }
  say("installing npm dependencies (npm ci)");
  run("npm", ["ci", "--no-audit", "--no-fund"]);
}

// 2. nats-server (Debian's package when we are root on Debian, with its own service kept off).
installNatsServer();

// 2b. ffmpeg (decodes every format but WAV; without it file nodes serve WAV only).
installFfmpeg();

// 2c. chromium, for `npm test` only (the web player's browser test, which skips without it).
if (process.argv.includes("--tests")) installChromium();

// 3. Compile (incremental: quick when nothing changed).
run(path.join(root, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"]);

// 4. The long demo songs (not committed): rendered once, then only their
// headers and sizes are checked. Without them Chorus still works (the short
// committed songs remain), so a failure here is a warning.
try {
  const { demoSongs, ensureDemoSongs } = await import("./demo-songs.mjs");
  const begun = Date.now();
  const results = ensureDemoSongs(path.join(root, "music"), {
    starting: (song) =>
      say(`synthesising demo song ${song.file} (${demoSongs.length} in all, once)`),
  });
  if (results.some((r) => r.made))
    say(`demo songs made in ${((Date.now() - begun) / 1000).toFixed(1)} s`);
} catch (err) {
  say(`could not make the demo songs in music/: ${err instanceof Error ? err.message : err}`);
}
