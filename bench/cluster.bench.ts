/**
 * Several machines (issue 8): three network-namespace hosts, each with its
 * own broker of one NATS cluster. Time to first audio from the listener's
 * machine (baseline: the same probe, and a raw request round trip, without
 * added latency; then with 20 ms netem on every host), the time the prime
 * takes to drop a cut-off machine's nodes (in beats), and the longest
 * silence a listener hears while its file node's machine is cut off.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeTone } from "../harness/fixtures/file.js";
import { ThreeMachines } from "../harness/cluster.js";
import { netnsUnavailable } from "../harness/netns.js";
import { waitFor } from "../harness/wait.js";
import type { ChorusProcess } from "../harness/system.js";
import { summary } from "./stats.js";

const probe = fileURLToPath(new URL("./cluster-probe.js", import.meta.url));
const heartbeatMs = 1000;

async function resultOf<T>(proc: ChorusProcess, what: string): Promise<T> {
  const code = await proc.exited;
  const line = proc
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (code !== 0 || !line) throw new Error(`${what} failed: ${proc.output().slice(-500)}`);
  return JSON.parse(line) as T;
}

export async function run(): Promise<void> {
  const why = netnsUnavailable();
  if (why) {
    console.log(`skipped: ${why}`);
    return;
  }
  const m = new ThreeMachines();
  try {
    const song = "bench-song.wav";
    for (const host of [m.prime, m.plane]) {
      writeTone(path.join(m.config(host).music, song), 40, { rate: 8000, channels: 1 });
    }
    const settings = { heartbeatMs, maxLoad: 2, fileCapacity: 1, idleMs: 600_000 };
    m.on(m.listener, ["broker"], settings);
    m.on(m.prime, ["up"], settings);
    m.on(m.plane, ["plane"], { ...settings, maxLoad: 4 });
    const nodes = await waitFor(
      async () => {
        const list = await m.nodesSeenFrom(m.listener);
        return list?.some((n) => n.kind === "plane") && list;
      },
      "the cluster to form",
      60_000,
    );
    const planeId = nodes.find((n) => n.kind === "plane")?.id as string;
    // JetStream elects its cluster leaders after the routes are up: wait for a first login.
    await waitFor(
      async () => (await m.listen("Someone", [song, "--for", "0.5", "--out", "null"]).exited) === 0,
      "a first song to play",
      90_000,
    );

    for (const delay of [0, 20]) {
      try {
        for (const host of m.net.hosts) if (delay) m.net.setDelay(host, delay);
      } catch (err) {
        console.log(
          `+${delay} ms: tc netem is unavailable on this kernel (${String(err).split("\n")[0]})`,
        );
        continue;
      }
      const { times } = await resultOf<{ times: number[] }>(
        m.runScript(m.listener, probe, ["first-audio", "20", song]),
        "first audio",
      );
      console.log(
        `time to first audio from the listener's machine (+${delay} ms per host): ${summary(times)}`,
      );
      for (const host of m.net.hosts) if (delay) m.net.setDelay(host, 0);
    }

    // One listener keeps the prime's only file node busy for a while; the
    // second streams from a file node on the plane's machine, which is cut.
    const first = m.runScript(m.listener, probe, ["listen", song, "6"]);
    await waitFor(() => first.output().includes('"playing"'), "listener 1 to play", 30_000);
    const second = m.runScript(m.listener, probe, ["listen", song, "30"]);
    await waitFor(() => second.output().includes('"playing"'), "listener 2 to play", 30_000);
    await resultOf(first, "listener 1");
    const watcher = m.runScript(m.listener, probe, ["watch-gone", planeId]);
    await waitFor(() => watcher.output().includes('"ready"'), "the watcher", 10_000);
    const cutAt = Date.now();
    m.net.setLink(m.plane, false);
    const { goneAt } = await resultOf<{ goneAt: number }>(watcher, "watcher");
    const dropMs = goneAt - cutAt;
    console.log(
      `cut-off machine's nodes dropped after ${dropMs} ms = ${(dropMs / heartbeatMs).toFixed(2)} beats of ${heartbeatMs} ms (target: 3 beats)`,
    );
    const heard = await resultOf<{ longestSilenceMs: number; underruns: number }>(
      second,
      "listener 2",
    );
    console.log(
      `listener on the cut machine's file node: longest silence ${heard.longestSilenceMs} ms, ${heard.underruns} underruns (target: resumes within 2 s)`,
    );
  } finally {
    await m.destroy();
  }
}
