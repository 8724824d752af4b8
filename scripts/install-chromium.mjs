#!/usr/bin/env node
// Makes sure /usr/bin/chromium exists: test/web-player.test.ts drives the web
// player in it with playwright-core. As root on Debian it installs Debian's
// package (playwright's own browser download needs the internet). Elsewhere it
// only says how: that test skips without it.
// Run on its own (`node scripts/install-chromium.mjs`) or from scripts/setup.mjs.
import { existsSync } from "node:fs";
import { debianRoot, isMain, run, say } from "./system-packages.mjs";

export function installChromium() {
  if (existsSync("/usr/bin/chromium")) return;
  if (debianRoot()) {
    say("installing Debian's chromium package (for the web player's browser test)");
    try {
      run("apt-get", ["update", "-qq"]);
      run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "chromium"]);
      return;
    } catch {
      say("could not install chromium: the web player's browser test will skip");
      return;
    }
  }
  say(
    "chromium is not installed: the web player's browser test will skip. " +
      "To run it: `sudo apt-get install chromium` (Debian/Ubuntu)",
  );
}

if (isMain(import.meta.url)) {
  installChromium();
}
