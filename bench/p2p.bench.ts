/**
 * P2P benchmark (issue 6), against a real system (broker, prime, auth and
 * file nodes) on loopback:
 * - join skew: host position minus joiner position at the joiner's first
 *   sample, and time to join (join call → first sample), p50/p99, over
 *   repeated join/leave cycles of a Player following a Player host;
 * - file-node bytes sent (the broker's /connz in_bytes of the file nodes'
 *   connections, over a window after warm-up) for 1 host + N joiners against
 *   N independent listeners at real-time pace, N = 10 and 100.
 * Joiners for the byte count are relay streams (client/p2p/join.ts) without
 * audio output, sharing one session; independent listeners are stream.ts
 * playbacks reporting real-time positions, also sharing one session.
 */
import { logIn } from "../client/auth.js";
import { bytesPerSecond } from "../client/audio/format.js";
import { HostStream } from "../client/p2p/join.js";
import type { Player } from "../client/player.js";
import { play as streamPlay, type ChunkReader } from "../client/stream.js";
import type { TestSystem } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";
import { startPlayer } from "../harness/fixtures/p2p.js";
import { demoUser, formats, startSystem, writeSong } from "../harness/fixtures/player.js";
import { summary } from "./stats.js";

const cycles = 40;
const warmUpMs = 2500;
const windowMs = 2000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function fileNodeBytes(sys: TestSystem): Promise<number> {
  const res = await fetch(`${sys.broker!.monitorUrl}/connz?limit=2000`);
  const body = (await res.json()) as { connections: Array<{ name?: string; in_bytes: number }> };
  return body.connections
    .filter((c) => c.name?.startsWith("file/"))
    .reduce((sum, c) => sum + c.in_bytes, 0);
}

async function windowBytes(sys: TestSystem): Promise<number> {
  await sleep(warmUpMs);
  const before = await fileNodeBytes(sys);
  await sleep(windowMs);
  return ((await fileNodeBytes(sys)) - before) / (windowMs / 1000);
}

function firstSample(player: Player): Promise<number> {
  return new Promise((resolve) => {
    const off = player.onChange((e) => {
      if (e.kind === "first-sample") {
        off();
        resolve(e.at);
      }
    });
  });
}

export async function run(): Promise<void> {
  const { sys, client } = await startSystem(
    (music) => [writeSong(music, "bench-cd.wav", 120, formats.cd, 11)],
    { authCapacity: 500, fileCapacity: 500, maxLoad: 8 },
  );
  const players: Player[] = [];
  try {
    const host = await startPlayer(client, true);
    players.push(host);
    const id = (await host.songs())[0]!.id;
    await host.play(id);
    await waitFor(() => host.position > 1, "the host to play");

    // Join skew and time to join.
    const joiner = await startPlayer(client, false);
    players.push(joiner);
    const skews: number[] = [];
    const joins: number[] = [];
    const deadline = performance.now() + 30_000;
    for (let i = 0; i < cycles && performance.now() < deadline; i++) {
      const first = firstSample(joiner);
      const asked = performance.now();
      await joiner.join(host.hostId!);
      const at = await first;
      // The sample event fires right after the write: read both positions now.
      skews.push((host.position - joiner.position) * 1000);
      joins.push(at - asked);
      await sleep(150);
      await joiner.stop();
      await sleep(50);
    }
    console.log(`join skew (host minus joiner position at its first sample): ${summary(skews)}`);
    console.log(`time to join (join call to first sample):                  ${summary(joins)}`);

    // File-node bytes: 1 host + N joiners against N independent listeners.
    // Independent listeners share one session with its own identity (its connection).
    const session = await logIn(client, "bench-p2p", demoUser.user, demoUser.password);
    const nc = session.nc;
    const hostOnly = await windowBytes(sys);
    const realTime = bytesPerSecond(formats.cd);
    console.log(
      `file-node bytes/s, 1 host alone: ${Math.round(hostOnly)} (${(hostOnly / realTime).toFixed(2)}x real time)`,
    );
    for (const n of [10, 100]) {
      const streams: HostStream[] = [];
      const ctx = { nc, session, config: client };
      for (let i = 0; i < n; i++) {
        const s = new HostStream(ctx, host.hostId!);
        await s.join();
        s.listen({
          chunk: () => undefined,
          end: () => undefined,
          moved: () => undefined,
          paused: () => undefined,
        });
        streams.push(s);
      }
      const withJoiners = await windowBytes(sys);
      const accepted = streams.reduce((sum, s) => sum + s.stats.accepted, 0);
      await Promise.all(streams.map((s) => s.stop()));

      const playbacks: ChunkReader[] = [];
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        playbacks.push(
          await streamPlay(nc, session, id, { from: 5 + (i % 50), manualPosition: true }),
        );
      }
      for (const p of playbacks) {
        void (async () => {
          for await (const chunk of p) void chunk;
        })();
      }
      const pace = setInterval(() => {
        const s = (performance.now() - started) / 1000;
        for (const [i, p] of playbacks.entries()) {
          p.played(Math.floor((5 + (i % 50) + s) * formats.cd.sampleRate));
        }
      }, 100);
      const independent = await windowBytes(sys);
      clearInterval(pace);
      await Promise.all(playbacks.map((p) => p.stop()));
      const rt = (v: number): string => `${(v / realTime).toFixed(2)}x real time`;
      console.log(
        `N=${n}: file-node bytes/s, 1 host + ${n} joiners: ${Math.round(withJoiners)} (${rt(withJoiners)}; ` +
          `joiners took ${accepted} frames); ${n} independent listeners: ${Math.round(independent)} ` +
          `(${rt(independent)}); host alone: ${rt(hostOnly)}`,
      );
      await sleep(500);
    }
    await session.close().catch(() => undefined);
  } finally {
    await Promise.all(players.map((p) => p.close()));
    await sys.cleanup();
  }
}
