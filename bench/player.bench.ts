/**
 * Player benchmark (issue 5): time from the Enter key (fed to the real
 * screen code: key parsing, PlayerApp, the player library) to the first
 * sample written to the output, p50/p99, against the file node's own
 * time to first chunk measured in the same run with stream.ts directly; and
 * underruns per minute with 50 listeners playing CD-quality audio at
 * real-time pace on this machine, against 1 listener.
 *
 * One broker and one prime; its auth nodes get authCapacity 60 so 50 logins
 * measure playing, not spawning 25 auth processes. Listeners are Player
 * instances in this process, each with its own broker connection and
 * session, writing to the null output (real-time clock, no device).
 */
import { PassThrough, Writable } from "node:stream";
import { NullOutput } from "../client/audio/null.js";
import { PlayerApp } from "../cli/screen/app.js";
import { Terminal } from "../cli/screen/terminal.js";
import { logIn } from "../client/auth.js";
import { findFileSource } from "../client/file-source.js";
import { Player } from "../client/player.js";
import { play as streamPlay } from "../client/stream.js";
import { formats, startSystem, writeSong, demoUser } from "../harness/fixtures/player.js";
import { percentile, summary } from "./stats.js";

const songSeconds = 60;

function nextFirstSample(player: Player): Promise<number> {
  return new Promise<number>((resolve) => {
    const off = player.onChange((e) => {
      if (e.kind === "first-sample") {
        off();
        resolve(e.at);
      }
    });
  });
}

async function firstSample(player: Player, id: string, from: number): Promise<number> {
  const start = performance.now();
  const first = nextFirstSample(player);
  await player.play(id, from);
  const at = await first;
  return at - start;
}

export async function run(): Promise<void> {
  const { sys, client } = await startSystem(
    (music) => [writeSong(music, "bench-cd.wav", songSeconds, formats.cd, 5)],
    { authCapacity: 60, heartbeatMs: 1000, idleMs: 120_000 },
  );
  const players: Player[] = [];
  const start = (): Promise<Player> =>
    Player.start({
      config: client,
      credentials: demoUser,
      output: new NullOutput(),
      findSource: findFileSource,
    }).then((p) => {
      players.push(p);
      return p;
    });
  try {
    // --- Enter → first sample, one listener, through the real screen code ------------
    const one = await start();
    const id = (await one.songs()).find((s) => s.file === "bench-cd.wav")!.id;
    await firstSample(one, id, 0); // warm-up: node spawn, JIT
    await one.stop();
    const keys = new PassThrough();
    let screen = "";
    const out = Object.assign(
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          screen = (screen + chunk.toString()).slice(-20_000);
          done();
        },
      }),
      { columns: 120, rows: 40 },
    );
    const app = new PlayerApp(
      one,
      new Terminal({
        input: keys as unknown as NodeJS.ReadStream,
        output: out as unknown as NodeJS.WriteStream,
      }),
    );
    const running = app.run();
    while (!screen.includes("Songs (1)")) await new Promise((r) => setTimeout(r, 10));

    // Baseline, interleaved with the player's runs so both see the same node and machine:
    // the file node's time to first chunk through stream.ts directly, same node, own session.
    const session = await logIn(client, "bench-raw", demoUser.user, demoUser.password);
    const nc = session.nc;
    const cred = session;
    const node = one.info().fileNode!;
    const player: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < 40; i++) {
      const first = nextFirstSample(one);
      const pressed = performance.now();
      keys.write("\r");
      player.push((await first) - pressed);
      keys.write("s");
      // A person takes longer than this between two keys; the stop has reached the node.
      await new Promise((r) => setTimeout(r, 100));

      const t = performance.now();
      const pb = await streamPlay(nc, cred, id, { node, manualPosition: true });
      const it = pb[Symbol.asyncIterator]();
      await it.next();
      raw.push(performance.now() - t);
      await pb.stop();
      await new Promise((r) => setTimeout(r, 100));
    }
    app.quit();
    await running;
    await session.close();
    console.log(`Enter key → first sample at the output (1 listener): ${summary(player)}`);
    console.log(`baseline, stream.ts play → first chunk in hand: ${summary(raw)}`);
    console.log(
      `  player overhead at p50: ${(percentile(player, 50) - percentile(raw, 50)).toFixed(2)} ms (target: p50 under 50 ms)`,
    );

    // --- underruns: 1 listener, then 50 ------------------------------------------
    const soloMs = 15_000;
    await one.play(id, 0);
    await new Promise((r) => setTimeout(r, soloMs));
    const solo = one.status().underruns;
    await one.stop();
    console.log(
      `1 listener, ${soloMs / 1000} s CD quality: ${solo} underruns (${((solo / soloMs) * 60_000).toFixed(1)}/min)`,
    );

    const count = 50;
    const crowd = [one, ...(await Promise.all(Array.from({ length: count - 1 }, () => start())))];
    const starts: number[] = [];
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      crowd.map(async (p, i) => {
        starts.push(await firstSample(p, id, i % 20));
      }),
    );
    const runMs = 30_000;
    await new Promise((r) => setTimeout(r, runMs));
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const under = crowd.map((p) => p.status().underruns);
    const total = under.reduce((a, b) => a + b, 0);
    const behind = crowd.filter((p) => p.status().now?.state !== "playing").length;
    console.log(`${count} listeners starting at once, play → first sample: ${summary(starts)}`);
    console.log(
      `${count} listeners, ${runMs / 1000} s CD quality (${((count * 176_400) / 1e6).toFixed(1)} MB/s): ` +
        `${total} underruns in all, ${((total / count / runMs) * 60_000).toFixed(2)} per listener-minute, ` +
        `worst listener ${Math.max(...under)}; not playing at the end: ${behind} (target: zero underruns)`,
    );
    console.log(
      `  client CPU for ${count} listeners: ${(((cpu.user + cpu.system) / 1000 / wall) * 100).toFixed(0)}% of one core`,
    );
  } finally {
    await Promise.all(players.map((p) => p.close()));
    await sys.cleanup();
  }
}
