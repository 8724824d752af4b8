#!/usr/bin/env node
// Makes sure nats-server exists. As root on Debian it installs Debian's
// package, and keeps Debian's own nats-server service from running: that
// service listens on 127.0.0.1:4222 (Chorus's default port) with no users and
// no JetStream, and `chorus up` would find it there instead of starting the
// Chorus broker. Elsewhere it stops with how to install nats-server.
// Run on its own (`node scripts/install-nats.mjs`) or from scripts/setup.mjs.
import { existsSync } from "node:fs";
import { debianRoot, isMain, onPath, run, say } from "./system-packages.mjs";

/** Stop and disable Debian's service; where systemd is not running, disabling still keeps it from starting at boot. */
function disableDebianService() {
  if (!onPath("systemctl")) return;
  const systemdRuns = existsSync("/run/systemd/system");
  try {
    run(
      "systemctl",
      systemdRuns ? ["disable", "--now", "nats-server"] : ["disable", "nats-server"],
    );
    say(
      "Debian's nats-server service is stopped and disabled: Chorus runs its own broker " +
        "(broker/nats.conf). `systemctl enable --now nats-server` turns it back on.",
    );
  } catch {
    say(
      "could not disable Debian's nats-server service; if it runs, `chorus up` refuses it: " +
        "`sudo systemctl disable --now nats-server`",
    );
  }
}

export function installNatsServer() {
  if (onPath("nats-server")) return;
  if (debianRoot()) {
    say("installing Debian's nats-server package");
    run("apt-get", ["update", "-qq"]);
    run("apt-get", ["install", "-y", "-qq", "nats-server"]);
    disableDebianService();
    return;
  }
  process.stderr.write(
    "setup: nats-server is not installed. Install it, then run this again:\n" +
      "  Debian/Ubuntu:  sudo apt-get install nats-server && sudo systemctl disable --now nats-server\n" +
      "  elsewhere:      https://docs.nats.io/running-a-nats-service/introduction/installation\n",
  );
  process.exit(1);
}

if (isMain(import.meta.url)) {
  installNatsServer();
}
