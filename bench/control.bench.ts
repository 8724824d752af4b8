/**
 * Control-plane benchmark (issue 2): spawn-to-ready latency, presence-to-
 * registry latency, and how many nodes beating every second one prime tracks
 * before its CPU saturates — against a raw NATS request-reply round trip
 * measured in the same run.
 */
import { at } from "../wire/contract.js";
import { primeNodes, primeSpawn } from "../wire/prime.js";
import type { NatsConnection } from "@nats-io/transport-node";
import { readFileSync } from "node:fs";
import { call } from "../actors/runtime/endpoint.js";
import { encodeJson } from "../wire/codec.js";
import type { Presence } from "../wire/presence.js";
import { subjects } from "../wire/subjects.js";
import { listNodes } from "../client/registry.js";
import { TestSystem } from "../harness/system.js";
import { elapsedMs, percentile, summary } from "./stats.js";

const ticksPerSecond = 100;

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

async function rawRoundTrip(nc: NatsConnection): Promise<number[]> {
  const sub = nc.subscribe("bench.echo", {
    callback: (_e, m) => {
      m.respond(m.data);
    },
  });
  const times: number[] = [];
  const body = encodeJson({ kind: "auth" });
  for (let i = 0; i < 2000; i++) {
    const t = process.hrtime.bigint();
    await nc.request("bench.echo", body, { timeout: 2000 });
    times.push(elapsedMs(t));
  }
  sub.unsubscribe();
  return times;
}

async function spawnToReady(sys: TestSystem, nc: NatsConnection, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = process.hrtime.bigint();
    const node = await call(nc, at(primeSpawn), { kind: i % 2 ? "file" : "auth" }, 20_000);
    times.push(elapsedMs(t));
    sys.track(node.pid);
  }
  return times;
}

function synthetic(id: string, ownerId: string): Presence {
  return {
    id,
    kind: "auth",
    owner: ownerId,
    host: "bench-host",
    load: 0,
    capacity: 2,
    intervalMs: 1000,
    status: "up",
    startedAt: Date.now(),
    pid: 1,
  };
}

async function presenceToRegistry(nc: NatsConnection, ownerId: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const id = `lat-${i}`;
    const t = process.hrtime.bigint();
    nc.publish(subjects.presence("auth", id), encodeJson(synthetic(id, ownerId)));
    // Same connection: the prime sees the beat before this request.
    const page = await call(nc, at(primeNodes), {});
    if (page.some((n) => n.id === id)) times.push(elapsedMs(t));
  }
  return times;
}

/** Beat for `count` synthetic nodes once a second for `seconds`; return the prime's CPU share. */
async function track(
  nc: NatsConnection,
  primePid: number,
  ownerId: string,
  count: number,
  seconds: number,
) {
  const payloads = Array.from({ length: count }, (_, i) => {
    const id = `syn-${count}-${i}`;
    return [subjects.presence("auth", id), encodeJson(synthetic(id, ownerId))] as const;
  });
  const slots = 50;
  const perSlot = Math.ceil(count / slots);
  let cpuStart = 0;
  let wallStart = 0n;
  for (let tick = 0; tick < seconds * slots; tick++) {
    const slotStart = Date.now();
    const slot = tick % slots;
    for (const [subject, body] of payloads.slice(slot * perSlot, (slot + 1) * perSlot)) {
      nc.publish(subject, body);
    }
    if (tick === slots) {
      // Measure from the second second on, once every node has beaten once.
      cpuStart = cpuSeconds(primePid);
      wallStart = process.hrtime.bigint();
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 / slots - (Date.now() - slotStart))));
  }
  await nc.flush();
  const cpu = (cpuSeconds(primePid) - cpuStart) / (elapsedMs(wallStart) / 1000);
  const tracked = (await listNodes(nc, 10_000)).filter((n) =>
    n.id.startsWith(`syn-${count}-`),
  ).length;
  return { cpu, tracked };
}

export async function run(): Promise<void> {
  const sys = new TestSystem();
  try {
    await sys.startBroker();
    const nc = await sys.connect("actor");
    const raw = await rawRoundTrip(nc);
    console.log(`baseline: raw NATS request-reply round trip ${summary(raw)}`);

    const prime = await sys.startControl(
      "prime",
      sys.config("prime", { maxLoad: 100, heartbeatMs: 1000, missedBeats: 3, idleMs: 600_000 }),
    );
    const primePid = prime.proc.child.pid as number;

    const spawns = await spawnToReady(sys, nc, 30);
    console.log(`spawn-to-ready (request sent -> reply after first presence): ${summary(spawns)}`);
    console.log(
      `  ratio to raw round trip (p50): ${(percentile(spawns, 50) / percentile(raw, 50)).toFixed(0)}x`,
    );

    const seen = await presenceToRegistry(nc, prime.id);
    console.log(`presence-to-registry (beat published -> listed; upper bound): ${summary(seen)}`);
    console.log(
      `  ratio to raw round trip (p50): ${(percentile(seen, 50) / percentile(raw, 50)).toFixed(2)}x`,
    );

    for (const count of [1000, 5000, 10_000, 20_000, 40_000]) {
      const { cpu, tracked } = await track(nc, primePid, prime.id, count, 5);
      console.log(
        `tracking ${count} nodes beating every 1 s: prime CPU ${(cpu * 100).toFixed(0)}% of one core, ${tracked}/${count} in the registry`,
      );
      if (cpu > 0.9) break;
    }
  } finally {
    await sys.cleanup();
  }
}
