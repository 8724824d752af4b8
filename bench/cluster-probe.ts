/**
 * Runs inside a test host's network namespace for bench/cluster.bench.ts and
 * prints one JSON line of results. Modes:
 *   first-audio N SONG   N plays: request sent -> first chunk in hand (ms)
 *   listen SONG SECONDS  play through a Player; the longest silence at the output (ms)
 *   watch-gone ID        poll the registry; the wall-clock time ID disappears
 */
import { loadConfig } from "../actors/runtime/config.js";
import { connectBroker } from "../actors/runtime/connect.js";
import { NullOutput } from "../client/audio/null.js";
import { logIn } from "../client/auth.js";
import { findSong, startPlayer } from "../cli/commands/listen.js";
import { listNodes } from "../client/registry.js";
import { play } from "../client/stream.js";
import { elapsedMs } from "./stats.js";

const [mode, a, b] = process.argv.slice(2);
const config = loadConfig({});
const credentials = { user: "Someone", password: "password123" };
const print = (value: unknown): void => void process.stdout.write(JSON.stringify(value) + "\n");

async function firstAudio(count: number, song: string): Promise<void> {
  const session = await logIn(config, "probe", credentials.user, credentials.password);
  const nc = session.nc;
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = process.hrtime.bigint();
    const playback = await play(nc, session, song);
    for await (const chunk of playback) {
      if (chunk) break;
    }
    times.push(elapsedMs(t));
    await playback.stop();
  }
  await session.close();
  print({ times });
}

async function listen(song: string, seconds: number): Promise<void> {
  const player = await startPlayer(config, credentials, new NullOutput());
  let last = 0;
  let longest = 0;
  player.onChange((event) => {
    if (event.kind !== "played") return;
    const now = Date.now();
    if (last) longest = Math.max(longest, now - last);
    last = now;
  });
  const { id } = findSong(await player.songs(), song);
  await player.play(id, 0, seconds);
  print({ playing: true, source: player.info().fileNode });
  await player.waitForEnd();
  await player.close();
  print({ longestSilenceMs: longest, underruns: player.status().underruns });
}

async function watchGone(id: string): Promise<void> {
  const nc = await connectBroker(config, "listener", "probe");
  print({ ready: true });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (!(await listNodes(nc)).some((n) => n.id === id)) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  print({ goneAt: Date.now() });
  await nc.close();
}

const run =
  mode === "first-audio"
    ? firstAudio(Number(a), String(b))
    : mode === "listen"
      ? listen(String(a), Number(b))
      : watchGone(String(a));
run.then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`probe: ${String(err)}\n`);
    process.exit(1);
  },
);
