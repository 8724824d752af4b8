import { brokerKeys, trustConf } from "../actors/runtime/broker-auth.js";
import { at } from "../wire/contract.js";
import { primeSpawn } from "../wire/prime.js";
import { expect } from "chai";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { call } from "../actors/runtime/endpoint.js";
import { copyDemoMusic, writeTone } from "../harness/fixtures/file.js";
import { freePort, portOpen } from "../harness/ports.js";
import { chorusBin, TestSystem, type ChorusProcess } from "../harness/system.js";
import { Tmux } from "../harness/tmux.js";
import { pidAlive, waitFor } from "../harness/wait.js";

/** What a chorus process must keep, whatever the broker's state (issue: Ctrl-C with the broker gone). */
const stopBoundMs = 2000;

/** Send `signal` and resolve with how long the process took to exit. */
async function timeToExit(
  pid: number,
  signal: NodeJS.Signals,
  exited?: Promise<unknown>,
): Promise<number> {
  const start = Date.now();
  process.kill(pid, signal);
  if (exited) await exited;
  else await waitFor(() => !pidAlive(pid), `pid ${pid} to exit`, 10_000, 10);
  return Date.now() - start;
}

/** A plain nats-server with the given config lines, as Debian's service or another project runs one. */
async function foreignBroker(
  sys: TestSystem,
  lines: string[],
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const conf = path.join(sys.root, `foreign-${port}.conf`);
  writeFileSync(conf, ["host: 127.0.0.1", `port: ${port}`, ...lines].join("\n") + "\n");
  const child = spawn("nats-server", ["-c", conf], { stdio: "ignore" });
  sys.track(child.pid ?? 0);
  await waitFor(() => portOpen(port), "the foreign broker to listen");
  return { url: `nats://127.0.0.1:${port}`, child };
}

describe("stopping and refusing: Ctrl-C without a broker, foreign brokers, taken ports", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  beforeEach(() => (sys = new TestSystem()));
  afterEach(async () => sys.cleanup());

  it(`every chorus process stops within ${stopBoundMs} ms of SIGINT or SIGTERM with its broker gone`, async () => {
    await sys.startBroker();
    const config = sys.config("prime", { maxLoad: 4 });
    copyDemoMusic(config.music);
    const prime = (await sys.startControl("prime", config)).proc;
    const plane = (await sys.startControl("plane", sys.config("plane", { maxLoad: 2 }))).proc;
    const actor = await sys.connect("actor");
    const auth = await call(actor, at(primeSpawn), { kind: "auth" }, 20_000);
    sys.track(auth.pid);
    const player = sys.run(
      ["play", "Chorus Theme", "--out", "null", "--no-host", "--user", "Someone"],
      config,
      { CHORUS_PASSWORD: "password123" },
    );
    const playing = await waitFor(
      () => player.output().includes("playing"),
      "chorus play to start playing",
      20_000,
    ).catch(() => {
      throw new Error(`chorus play did not start: ${player.output()}`);
    });
    expect(playing).to.equal(true);
    const nodes = await sys.nodes(actor);
    const file = nodes.find((n) => n.kind === "file");
    expect(file, "a file node serves the player").to.not.equal(undefined);
    sys.track(file?.pid ?? 0);
    const monitor = sys.run(["monitor"], config);
    await waitFor(() => monitor.output().includes("chorus."), "chorus monitor to print");

    await sys.stopBroker();
    const cases: Array<[string, ChorusProcess | number, NodeJS.Signals]> = [
      ["prime", prime, "SIGINT"],
      ["plane", plane, "SIGTERM"],
      ["play", player, "SIGINT"],
      ["monitor", monitor, "SIGTERM"],
      ["auth node", auth.pid, "SIGTERM"],
      ["file node", file?.pid ?? 0, "SIGINT"],
    ];
    const times = await Promise.all(
      cases.map(async ([name, p, signal]) => {
        const pid = typeof p === "number" ? p : (p.child.pid ?? 0);
        if (!pidAlive(pid)) return [name, 0] as const; // already gone with its broker: fine
        const ms = await timeToExit(pid, signal, typeof p === "number" ? undefined : p.exited);
        return [name, ms] as const;
      }),
    );
    for (const [name, ms] of times)
      expect(ms, `${name} stopped after ${ms} ms`).to.be.below(stopBoundMs);
  });

  it(`the player in a terminal stops within ${stopBoundMs} ms of Ctrl-C with its broker gone, and gives the terminal back`, async () => {
    await sys.startBroker();
    const config = sys.config("prime");
    writeTone(path.join(config.music, "long.wav"), 30, { rate: 8000, channels: 1, title: "Long" });
    await sys.startControl("prime", config);
    const tmux = new Tmux();
    try {
      tmux.start({
        ...(sys.env(config) as Record<string, string>),
        CHORUS_PASSWORD: "password123",
      });
      tmux.type(
        `node ${chorusBin} player --user Someone --out null; echo "EXIT=$?"; stty -a | grep -o -- ' -\\?echo ' | head -1`,
      );
      tmux.keys("Enter");
      await tmux.see(/Long +0:30/, "the song list");
      // Enter until it plays: the first may come before the screen takes keys.
      await waitFor(
        () => {
          if (tmux.screen().includes("▶ playing")) return true;
          tmux.keys("Enter");
          return false;
        },
        "the song to play",
        15_000,
        1000,
      );
      const player = Number(
        execFileSync("ps", ["-o", "pid=", "--ppid", String(tmux.panePid())], { encoding: "utf8" })
          .trim()
          .split(/\s+/)[0],
      );
      await sys.stopBroker();
      const ms = await timeToExit(player, "SIGINT");
      expect(ms).to.be.below(stopBoundMs);
      const screen = await tmux.see(/EXIT=\d+/, "the player to exit");
      expect(screen).to.include("EXIT=130");
      expect(screen).to.match(/ echo /); // the terminal echoes again
    } finally {
      tmux.kill();
    }
  });

  it("`chorus up` with its own broker stops everything within the bound, and a second Ctrl-C stops at once", async () => {
    const port = await freePort();
    const config = sys.config("up", { nats: `nats://127.0.0.1:${port}`, monitorPort: 0 });
    const up = sys.run(["up"], config);
    await waitFor(() => up.output().includes("Chorus is up"), "chorus up to be up", 20_000);
    // The start-up output ends with what to do next.
    expect(up.output()).to.match(/chorus\.js player/);
    const ms = await timeToExit(up.child.pid ?? 0, "SIGINT", up.exited);
    expect(ms).to.be.below(stopBoundMs);
    expect(await up.exited).to.equal(0);
    expect(await portOpen(port)).to.equal(false);

    // `chorus broker` alone, the same.
    const brokerPort = await freePort();
    const broker = sys.run(
      ["broker"],
      sys.config("broker-only", { nats: `nats://127.0.0.1:${brokerPort}`, monitorPort: 0 }),
    );
    await waitFor(() => portOpen(brokerPort), "chorus broker to listen", 20_000);
    expect(await timeToExit(broker.child.pid ?? 0, "SIGTERM", broker.exited)).to.be.below(
      stopBoundMs,
    );
    expect(await portOpen(brokerPort)).to.equal(false);

    // A graceful stop held up by a frozen node (SIGSTOP): the second Ctrl-C ends it at once.
    await sys.startBroker();
    const prime = (await sys.startControl("prime", sys.config("prime"))).proc;
    const actor = await sys.connect("actor");
    const node = await call(actor, at(primeSpawn), { kind: "auth" }, 20_000);
    sys.track(node.pid);
    process.kill(node.pid, "SIGSTOP");
    try {
      prime.child.kill("SIGINT");
      await waitFor(() => prime.output().includes("stopping reason=SIGINT"), "the prime to stop");
      const second = await timeToExit(prime.child.pid ?? 0, "SIGINT", prime.exited);
      // 130: ended by the second signal, not by its (still waiting) graceful stop.
      expect(await prime.exited).to.equal(130);
      expect(second).to.be.below(stopBoundMs / 2);
    } finally {
      if (pidAlive(node.pid)) process.kill(node.pid, "SIGKILL");
    }
  });

  it("refuses a foreign broker on the port with one message that names the problem and the fix", async () => {
    // Debian's /etc/nats-server.conf: host and port, nothing else.
    const debian = await foreignBroker(sys, []);
    const up = sys.run(["up"], sys.config("up", { nats: debian.url, monitorPort: 0 }));
    expect(await up.exited).to.equal(1);
    const said = up.output().trim().split("\n");
    expect(said, up.output()).to.have.length(1);
    expect(said[0]).to.include("not a Chorus broker: it lets anyone in");
    expect(said[0]).to.include("systemctl disable --now nats-server");
    expect(said[0]).to.include("--nats");
    // A prime started on its own is refused the same way.
    const prime = sys.run(["prime"], sys.config("prime", { nats: debian.url }));
    expect(await prime.exited).to.equal(1);
    expect(prime.output()).to.include("not a Chorus broker: it lets anyone in");
    debian.child.kill("SIGTERM");

    // Each other way of not being a Chorus broker.
    const jetstream = (dir: string): string =>
      `jetstream { store_dir: ${JSON.stringify(path.join(sys.root, dir))} }`;
    const cases: Array<[string, string[], RegExp]> = [
      // Our operator (the same actor secret) but no JetStream.
      ["no JetStream", [await trustConf(brokerKeys("test-actor-secret"))], /it has no JetStream/],
      [
        "another deployment's operator",
        [await trustConf(brokerKeys("another-secret")), jetstream("js2")],
        /refuses this data folder's actor secret/,
      ],
      [
        "passwords instead of JWTs",
        ["authorization { users = [ { user: actor, password: other } ] }", jetstream("js3")],
        /refuses this data folder's actor secret/,
      ],
    ];
    for (const [what, lines, message] of cases) {
      const broker = await foreignBroker(sys, lines);
      const proc = sys.run(["up"], sys.config("up", { nats: broker.url, monitorPort: 0 }));
      expect(await proc.exited, what).to.equal(1);
      expect(proc.output(), what).to.match(message);
      expect(proc.output().trim().split("\n"), what).to.have.length(1);
      broker.child.kill("SIGTERM");
    }
  });

  it("says which port is taken when the broker cannot start", async () => {
    const taken: Server = createServer();
    const monitorPort = await new Promise<number>((resolve) =>
      taken.listen(0, "127.0.0.1", () => {
        const address = taken.address();
        resolve(typeof address === "object" && address ? address.port : 0);
      }),
    );
    try {
      const clientPort = await freePort();
      const up = sys.run(
        ["up"],
        sys.config("up", { nats: `nats://127.0.0.1:${clientPort}`, monitorPort }),
      );
      expect(await up.exited).to.equal(1);
      expect(up.output()).to.include(`the monitoring port ${monitorPort} is taken`);
      expect(up.output()).to.not.include(String(clientPort));
    } finally {
      taken.close();
    }
  });
});
