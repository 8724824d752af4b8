/**
 * File node streaming, end to end on this machine: a real broker, prime,
 * auth node and file node (separate processes), listeners in this process
 * on several connections, CD-quality audio (44.1 kHz, 16-bit stereo,
 * 176.4 kB/s).
 *
 * 1. Time to first audio (play request sent → first chunk in hand), p50/p99,
 *    with 1, 50 and 200 listeners starting at once.
 * 2. Real-time listeners: N listeners play for 30 s at real-time pace
 *    (reporting their clock position); a listener underruns when a chunk
 *    arrives after its play deadline (first chunk's arrival + k × 500 ms).
 *    Tried at 500, then 1,000 if 500 held.
 * 3. Throughput: 16 listeners pulling as fast as they can, against raw
 *    JetStream publish (await each ack) + push consume of the same chunk
 *    size and concurrency, measured in the same run.
 *
 * Listeners share the sessions of two demo users (a file node verifies each
 * distinct session once per beat).
 *
 * `CHORUS_BENCH_PROFILE=1` runs only the real-time listeners and prints
 * where the CPU goes in 10 s in the middle of each run: in nats-server, the
 * file node and the listeners.
 */
import {
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { createInbox, type NatsConnection } from "@nats-io/transport-node";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { ClientSession } from "../client/stream.js";
import { ChorusError } from "../wire/errors.js";
import { UserSession } from "../client/auth.js";
import { findFileNode, play, type ChunkReader } from "../client/stream.js";
import { toneWav } from "../harness/fixtures/file.js";
import { TestSystem } from "../harness/system.js";
import { percentile, summary } from "./stats.js";
import type { Quality } from "../wire/quality.js";
import { pushConsumer } from "../actors/runtime/streams.js";
import { brokerProfile, ownProfile, processProfile } from "./profile.js";
import { freePort } from "../harness/ports.js";

const profiling = process.env.CHORUS_BENCH_PROFILE === "1";
/** The real-time listeners' level (`CHORUS_BENCH_QUALITY`; they count Opus packets, not decode them). */
const quality = (process.env.CHORUS_BENCH_QUALITY ?? "lossless") as Quality;
/** Frames per second of the stream a listener plays: lossy levels are 48 kHz Opus. */
const rateOf = (q: Quality): number => (q === "lossless" ? 44_100 : 48_000);

const cdBytesPerSecond = 176_400;
const chunkMs = 500;
const listenersPerConnection = 25;

interface Rig {
  sys: TestSystem;
  /** nats-server's pprof port (0: not profiling). */
  profilePort: number;
  nodeId: string;
  nodePid: number;
  brokerPid: number;
  conns: NatsConnection[];
  sessions: ClientSession[];
  users: UserSession[];
  /** Everything the prime and the nodes it spawned logged. */
  primeOutput: () => string;
}

function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

async function setUp(): Promise<Rig> {
  const sys = new TestSystem();
  const profilePort = profiling ? await freePort() : 0;
  await sys.startBroker(-1, profiling ? ["--profile", String(profilePort)] : []);

  const config = sys.config("prime", {
    maxLoad: 4,
    fileCapacity: 5000,
    heartbeatMs: 1000,
    missedBeats: 3,
    idleMs: 600_000,
  });
  mkdirSync(config.music, { recursive: true });
  // 40 s of CD-quality audio, made here (not committed).
  writeFileSync(path.join(config.music, "cd.wav"), toneWav(40, { rate: 44100, channels: 2 }));
  const prime = await sys.startControl("prime", config);
  const conns: NatsConnection[] = [];
  // Actor connections: a listener's own identity may read only its own inboxes, and these
  // sessions (without identities of their own) are shared by many connections.
  for (let i = 0; i < 44; i++) conns.push(await sys.connect("actor"));
  const first = conns[0] as NatsConnection;
  const users = [
    await UserSession.login(first, "Someone", "password123"),
    await UserSession.login(first, "AnotherUser", "password123"),
  ];
  const sessions: ClientSession[] = users;
  const nodeId = (await findFileNode(first)).id;
  const actor = await sys.connect("actor");
  const nodes = await sys.nodes(actor);
  for (const n of nodes) sys.track(n.pid);
  const nodePid = nodes.find((n) => n.id === nodeId)?.pid ?? 0;
  const brokerPid = sys.broker?.process.pid ?? 0;
  return {
    sys,
    profilePort,
    nodeId,
    nodePid,
    brokerPid,
    conns,
    sessions,
    users,
    primeOutput: prime.proc.output,
  };
}

function connFor(rig: Rig, i: number): NatsConnection {
  return rig.conns[Math.floor(i / listenersPerConnection) % rig.conns.length] as NatsConnection;
}

async function timeToFirstAudio(rig: Rig, listeners: number, rounds: number): Promise<number[]> {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const started: ChunkReader[] = [];
    await Promise.all(
      Array.from({ length: listeners }, async (_, i) => {
        const t0 = process.hrtime.bigint();
        let resolveFirst!: () => void;
        const first = new Promise<void>((resolve) => (resolveFirst = resolve));
        const playback = await play(
          connFor(rig, i),
          rig.sessions[i % 2] as ClientSession,
          "cd.wav",
          {
            node: rig.nodeId,
            manualPosition: true,
            timeoutMs: 10_000,
            onChunk: () => resolveFirst(),
          },
        ).catch((err: unknown) => {
          // Refused (overloaded node): no sample, said once.
          if (!(err instanceof ChorusError)) throw err;
          console.log(`  a play was refused: ${err.code} ${err.message}`);
          return undefined;
        });
        if (!playback) return;
        started.push(playback);
        await first;
        samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }),
    );
    await Promise.all(started.map((p) => p.stop()));
  }
  return samples;
}

interface RealTimeResult {
  listeners: number;
  underrunListeners: number;
  /** Plays the node refused (overloaded). */
  refused: number;
  lateChunks: number;
  chunks: number;
  worstLateMs: number;
  startP99Ms: number;
  cpuNode: number;
  cpuBroker: number;
  cpuHere: number;
}

/**
 * `listeners` real-time listeners arriving over `staggerMs`, each playing
 * for `seconds` (or until `stop()`): a playback clock starts at its first
 * chunk and reports its position every 250 ms; a chunk is late when it
 * arrives after its play time on that clock.
 */
function realTimeListeners(
  rig: Rig,
  listeners: number,
  seconds: number,
  staggerMs: number,
): { stop(): void; done: Promise<RealTimeResult> } {
  const cpu0 = [cpuSeconds(rig.nodePid), cpuSeconds(rig.brokerPid), process.cpuUsage()] as const;
  const wall0 = Date.now();
  let lateChunks = 0;
  let chunks = 0;
  let worstLate = 0;
  let refused = 0;
  let stopAll!: () => void;
  const stopped = new Promise<void>((resolve) => (stopAll = resolve));
  const underrun = new Set<number>();
  const starts: number[] = [];
  const one = async (i: number): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, (i / listeners) * staggerMs));
    const t0 = Date.now();
    let firstAt = 0;
    let clock: NodeJS.Timeout | undefined;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    // Set once play() returns; the clock only uses it after that.
    const held: { playback?: ChunkReader } = {};
    const playback = await play(connFor(rig, i), rig.sessions[i % 2] as ClientSession, "cd.wav", {
      node: rig.nodeId,
      manualPosition: true,
      timeoutMs: 10_000,
      quality,
      decode: false,
      onChunk: (chunk) => {
        const now = Date.now();
        if (!firstAt) {
          firstAt = now;
          starts.push(now - t0);
          clock = setInterval(() => {
            const elapsed = Date.now() - firstAt;
            held.playback?.played(Math.floor((elapsed / 1000) * rateOf(quality)));
            if (elapsed >= seconds * 1000) resolveDone();
          }, chunkMs / 2);
        }
        chunks++;
        const deadline = firstAt + chunk.time * 1000;
        if (now > deadline + 1) {
          if (process.env.CHORUS_BENCH_TRACE) {
            console.log(
              `late ${i} t=${now - wall0} chunk=${chunk.time.toFixed(1)} by=${now - deadline}`,
            );
          }
          lateChunks++;
          underrun.add(i);
          worstLate = Math.max(worstLate, now - deadline);
        }
      },
    }).catch((err: unknown) => {
      // An overloaded node refuses new streams (NO_ROOM): count it as a listener not held.
      refused++;
      underrun.add(i);
      if (!(err instanceof ChorusError)) throw err;
      return undefined;
    });
    if (!playback) return;
    held.playback = playback;
    await Promise.race([done, playback.ended, stopped]);
    clearInterval(clock);
    await playback.stop();
  };
  const done = Promise.all(Array.from({ length: listeners }, (_, i) => one(i))).then(() => {
    const wall = (Date.now() - wall0) / 1000;
    const here = process.cpuUsage(cpu0[2]);
    return {
      listeners,
      underrunListeners: underrun.size,
      refused,
      lateChunks,
      chunks,
      worstLateMs: worstLate,
      startP99Ms: percentile(starts, 99),
      cpuNode: (cpuSeconds(rig.nodePid) - cpu0[0]) / wall,
      cpuBroker: (cpuSeconds(rig.brokerPid) - cpu0[1]) / wall,
      cpuHere: (here.user + here.system) / 1e6 / wall,
    };
  });
  return { stop: stopAll, done };
}

/** Time to first audio of `samples` plays one after another, while `background` listeners play. */
async function firstAudioUnderLoad(
  rig: Rig,
  background: number,
  samples: number,
): Promise<{ ttfa: number[]; late: number }> {
  const load = realTimeListeners(rig, background, 600, 2000);
  await new Promise((resolve) => setTimeout(resolve, background ? 3000 : 0));
  const ttfa: number[] = [];
  for (let k = 0; k < samples; k++) {
    ttfa.push(...(await timeToFirstAudio(rig, 1, 1)));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  load.stop();
  const result = await load.done;
  return { ttfa, late: result.lateChunks };
}

/** Bytes per second delivered to `listeners` listeners pulling as fast as they can. */
async function deliveredThroughput(rig: Rig, listeners: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  await Promise.all(
    Array.from({ length: listeners }, async (_, i) => {
      const playback = await play(
        connFor(rig, i * 3),
        rig.sessions[i % 2] as ClientSession,
        "cd.wav",
        {
          node: rig.nodeId,
        },
      );
      for await (const chunk of playback) bytes += chunk.data.length;
    }),
  );
  return bytes / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** The same chunks through JetStream directly: publish with acks, push-consume, same concurrency. */
async function rawThroughput(
  rig: Rig,
  streams: number,
  chunksEach: number,
  name: string,
): Promise<number> {
  const actor = await rig.sys.connect("actor");
  const jsm = await jetstreamManager(actor);
  const js = jetstream(actor);
  await jsm.streams.add({
    name: name,
    subjects: [`${name}.*`],
    storage: StorageType.Memory,
    retention: RetentionPolicy.Interest,
    discard: DiscardPolicy.Old,
    max_msgs_per_subject: 10,
  });
  const chunk = new Uint8Array(cdBytesPerSecond / 2);
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: streams }, async (_, i) => {
      const nc = connFor(rig, i * 3);
      const inbox = createInbox();
      let got = 0;
      let resolveAll!: () => void;
      const all = new Promise<void>((resolve) => (resolveAll = resolve));
      let wake: (() => void) | undefined;
      const sub = nc.subscribe(inbox, {
        callback: (_err, msg) => {
          if (msg.headers?.code === 100) {
            if (msg.reply) msg.respond();
            return;
          }
          bytes += msg.data.length;
          if (++got === chunksEach) resolveAll();
          wake?.();
        },
      });
      // The consumer kind a file node makes (actors/runtime/streams.ts).
      await jsm.consumers.add(
        name,
        pushConsumer({
          name: `raw${i}`,
          deliver_subject: inbox,
          filter_subject: `${name}.${i}`,
          deliver_policy: DeliverPolicy.All,
          inactiveMs: 10_000,
        }),
      );
      // Like a file node: a window of 4 chunks ahead of what the consumer has.
      for (let k = 0; k < chunksEach; k++) {
        while (k - got >= 4) await new Promise<void>((resolve) => (wake = resolve));
        await js.publish(`${name}.${i}`, chunk);
      }
      await all;
      sub.unsubscribe();
    }),
  );
  const rate = bytes / (Number(process.hrtime.bigint() - t0) / 1e9);
  await jsm.streams.delete(name);
  return rate;
}

/**
 * The baseline for real time: `listeners` streams through raw JetStream in
 * this process, no Chorus code, the same chunk size, stream settings and
 * consumer kind as a file node's. Each publishes 4 chunks at once, then one
 * every 500 ms, with the ack awaited in the background; a chunk is late by
 * the same rule as a listener's.
 */
async function rawRealTime(
  rig: Rig,
  listeners: number,
  seconds: number,
  staggerMs: number,
): Promise<{ late: number; lateListeners: number; chunks: number; worst: number }> {
  const actor = rig.conns[0] as NatsConnection;
  const jsm = await jetstreamManager(actor);
  const js = jetstream(actor);
  const name = "BENCH_RAW_RT";
  await jsm.streams.add({
    name,
    subjects: [`${name}.*`],
    storage: StorageType.Memory,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_msgs_per_subject: 6,
    max_bytes: 512 * 1024 * 1024,
  });
  const chunk = new Uint8Array(cdBytesPerSecond / 2);
  let late = 0;
  let chunks = 0;
  let worst = 0;
  const lateOnes = new Set<number>();
  const chunkCount = seconds * 2;
  await Promise.all(
    Array.from({ length: listeners }, async (_, i) => {
      await new Promise((resolve) => setTimeout(resolve, (i / listeners) * staggerMs));
      const nc = connFor(rig, i);
      const inbox = createInbox();
      let got = 0;
      let firstAt = 0;
      let resolveAll!: () => void;
      const all = new Promise<void>((resolve) => (resolveAll = resolve));
      const sub = nc.subscribe(inbox, {
        callback: (_err, msg) => {
          if (msg.headers?.code === 100) {
            if (msg.reply) msg.respond();
            return;
          }
          const now = Date.now();
          firstAt ||= now;
          const deadline = firstAt + got * chunkMs;
          if (now > deadline + 1) {
            late++;
            lateOnes.add(i);
            worst = Math.max(worst, now - deadline);
          }
          chunks++;
          if (++got === chunkCount) resolveAll();
        },
      });
      // The consumer kind a file node makes (actors/runtime/streams.ts).
      await jsm.consumers.add(
        name,
        pushConsumer({
          name: `rt${i}`,
          deliver_subject: inbox,
          filter_subject: `${name}.${i}`,
          deliver_policy: DeliverPolicy.All,
          inactiveMs: 10_000,
        }),
      );
      const start = Date.now();
      for (let k = 0; k < chunkCount; k++) {
        // 4 chunks ahead of the play clock, like a file node's window.
        const due = start + Math.max(0, k - 4) * chunkMs;
        if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
        void js.publish(`${name}.${i}`, chunk, { timeout: 10_000 }).catch(() => undefined);
      }
      await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      sub.unsubscribe();
    }),
  );
  await jsm.streams.delete(name);
  return { late, lateListeners: lateOnes.size, chunks, worst };
}

export async function run(): Promise<void> {
  const rig = await setUp();
  try {
    console.log("setup: broker, prime, auth node, file node as separate processes; 40 s CD WAV");
    if (!profiling) await firstAudioAndThroughput(rig);
    const seconds = Number(process.env.CHORUS_BENCH_SECONDS ?? 30);
    const sizes = (process.env.CHORUS_BENCH_LISTENERS ?? "500,1000").split(",").map(Number);
    for (const n of sizes) {
      const run = realTimeListeners(rig, n, seconds, 5000);
      // 10 s in the middle of the run, all three at once.
      const profiles = profiling
        ? new Promise((resolve) => setTimeout(resolve, (seconds * 1000) / 2 - 5000)).then(() =>
            Promise.all([
              brokerProfile(rig.profilePort, 10),
              processProfile(rig.nodePid, "file node", 10),
              ownProfile(10),
            ]),
          )
        : undefined;
      const r = await run.done;
      console.log(
        `real time, ${n} listeners at ${quality} of a CD song (arriving over 5 s) for ${seconds} s: ${r.underrunListeners} ` +
          `listeners underran or were refused (${r.refused} refused; ${r.lateChunks}/${r.chunks} chunks late, worst ${r.worstLateMs} ms); ` +
          `start p99 ${r.startP99Ms.toFixed(0)} ms; cpu: file node ${(r.cpuNode * 100).toFixed(0)}%, ` +
          `broker ${(r.cpuBroker * 100).toFixed(0)}%, listeners ${(r.cpuHere * 100).toFixed(0)}% of a core`,
      );
      if (profiles) console.log((await profiles).join("\n\n"));
      const raw = await rawRealTime(rig, n, seconds, 5000);
      console.log(
        `  baseline, raw JetStream in this process, ${n} real-time streams: ${raw.lateListeners} ` +
          `streams late (${raw.late}/${raw.chunks} chunks, worst ${raw.worst} ms)`,
      );
      if (r.underrunListeners > 0) break;
    }
  } finally {
    await tearDown(rig);
  }
}

async function firstAudioAndThroughput(rig: Rig): Promise<void> {
  const ttfaSizes = (process.env.CHORUS_BENCH_TTFA ?? "1,50,200").split(",").map(Number);
  for (const n of ttfaSizes) {
    const { ttfa, late } = await firstAudioUnderLoad(rig, n === 1 ? 0 : n, 40);
    console.log(
      `time to first audio while ${String(n === 1 ? 0 : n).padStart(3)} listeners play: ` +
        `${summary(ttfa)}${n > 1 ? ` (background late chunks: ${late})` : ""}`,
    );
  }
  for (const n of [50, 200]) {
    const burst = await timeToFirstAudio(rig, n, 1);
    console.log(
      `time to first audio, ${n} listeners pressing play at the same instant: ${summary(burst)}`,
    );
  }

  // Alternated, best of two each: other processes on this machine add noise.
  let raw = 0;
  let delivered = 0;
  for (let k = 0; k < 2; k++) {
    raw = Math.max(raw, await rawThroughput(rig, 16, 80, `BENCH_RAW${k}`));
    delivered = Math.max(delivered, await deliveredThroughput(rig, 16));
  }
  console.log(
    `throughput, 16 listeners at full speed: delivered ${(delivered / 1e6).toFixed(1)} MB/s ` +
      `(${(delivered / cdBytesPerSecond).toFixed(0)}x real time), raw JetStream publish+consume ` +
      `${(raw / 1e6).toFixed(1)} MB/s, ratio ${((delivered / raw) * 100).toFixed(0)}%`,
  );
}

async function tearDown(rig: Rig): Promise<void> {
  const warnings = rig
    .primeOutput()
    .split("\n")
    .filter((l) => / (warn|error) /.test(l));
  if (process.env.CHORUS_BENCH_TRACE) {
    for (const l of rig.primeOutput().split("\n")) if (l.includes("stats")) console.log(l);
  }
  if (warnings.length) {
    console.log(`${warnings.length} warnings logged by the nodes, e.g.:`);
    for (const l of warnings.slice(0, 5)) console.log(`  ${l.slice(0, 200)}`);
  }
  for (const u of rig.users) u.stopHeartbeats();
  await rig.sys.cleanup();
}
