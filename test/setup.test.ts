import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "../harness/system.js";

/**
 * The set-up step's nats-server install, run for real with stand-ins for
 * Debian's tools on PATH: `apt-get` that "installs" a nats-server, and
 * `systemctl` that records what it was asked. Nothing on the machine changes.
 */
describe("set-up: installing Debian's nats-server keeps Debian's service off", function () {
  const debianRoot = process.getuid?.() === 0 && existsSync("/etc/debian_version");
  let bin: string;
  beforeEach(() => (bin = mkdtempSync(path.join(tmpdir(), "chorus-setup-"))));
  afterEach(() => rmSync(bin, { recursive: true, force: true }));

  function standIn(name: string, body: string): void {
    const file = path.join(bin, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
  }

  function install(): { status: number | null; output: string } {
    const run = spawnSync(process.execPath, [path.join(repoRoot, "scripts/install-nats.mjs")], {
      // Only the stand-ins and the shell's basics: the real nats-server is not found.
      env: { ...process.env, PATH: `${bin}:/bin`, CHORUS_SETUP_QUIET: "0" },
      encoding: "utf8",
    });
    return { status: run.status, output: run.stdout + run.stderr };
  }

  it("installs the package, then stops and disables Debian's service, and says so", function () {
    if (!debianRoot) this.skip();
    const log = path.join(bin, "calls.log");
    standIn(
      "apt-get",
      `echo "apt-get $*" >> ${log}\n` +
        `case "$*" in *install*) printf '#!/bin/sh\\n' > ${bin}/nats-server; chmod 755 ${bin}/nats-server;; esac`,
    );
    standIn("systemctl", `echo "systemctl $*" >> ${log}`);
    const { status, output } = install();
    expect(status, output).to.equal(0);
    const calls = readFileSync(log, "utf8").trim().split("\n");
    expect(calls).to.include("apt-get install -y -qq nats-server");
    const systemdRuns = existsSync("/run/systemd/system");
    expect(calls.at(-1)).to.equal(
      systemdRuns ? "systemctl disable --now nats-server" : "systemctl disable nats-server",
    );
    expect(output).to.include("Debian's nats-server service is stopped and disabled");
  });

  it("does nothing when nats-server is already there", function () {
    const log = path.join(bin, "calls.log");
    standIn("nats-server", "exit 0");
    standIn("apt-get", `echo "apt-get $*" >> ${log}`);
    standIn("systemctl", `echo "systemctl $*" >> ${log}`);
    const { status, output } = install();
    expect(status, output).to.equal(0);
    expect(existsSync(log)).to.equal(false);
  });

  it("says how to install it where it cannot install it itself", function () {
    if (debianRoot) this.skip();
    const { status, output } = install();
    expect(status).to.equal(1);
    expect(output).to.include("nats-server is not installed");
    expect(output).to.include("systemctl disable --now nats-server");
  });
});

/** The set-up step's ffmpeg install, with a stand-in `apt-get` (nothing on the machine changes). */
describe("set-up: installing Debian's ffmpeg", function () {
  const debianRoot = process.getuid?.() === 0 && existsSync("/etc/debian_version");
  let bin: string;
  beforeEach(() => (bin = mkdtempSync(path.join(tmpdir(), "chorus-setup-ffmpeg-"))));
  afterEach(() => rmSync(bin, { recursive: true, force: true }));

  function standIn(name: string, body: string): void {
    const file = path.join(bin, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
  }

  function install(): { status: number | null; output: string } {
    const run = spawnSync(process.execPath, [path.join(repoRoot, "scripts/install-ffmpeg.mjs")], {
      // Only the stand-ins (/bin is /usr/bin on Debian 12, where the real ffmpeg may be).
      env: { ...process.env, PATH: bin, CHORUS_SETUP_QUIET: "0" },
      encoding: "utf8",
    });
    return { status: run.status, output: run.stdout + run.stderr };
  }

  it("installs Debian's package when it is missing and we are root on Debian", function () {
    if (!debianRoot) this.skip();
    const log = path.join(bin, "calls.log");
    standIn("apt-get", `echo "apt-get $*" >> ${log}`);
    const { status, output } = install();
    expect(status, output).to.equal(0);
    const calls = readFileSync(log, "utf8").trim().split("\n");
    expect(calls).to.deep.equal([
      "apt-get update -qq",
      "apt-get install -y -qq --no-install-recommends ffmpeg",
    ]);
    expect(output).to.include("installing Debian's ffmpeg package");
  });

  it("does nothing when ffmpeg is already there", function () {
    const log = path.join(bin, "calls.log");
    standIn("ffmpeg", "exit 0");
    standIn("apt-get", `echo "apt-get $*" >> ${log}`);
    const { status, output } = install();
    expect(status, output).to.equal(0);
    expect(existsSync(log)).to.equal(false);
  });

  it("carries on, saying only WAV will play, when it cannot install it", function () {
    standIn("apt-get", "exit 100");
    const { status, output } = install();
    expect(status, output).to.equal(0);
    expect(output).to.match(/only WAV (songs )?will play/);
  });
});
