/**
 * Auth benchmark (issue 3): login latency (assign + login) with 1 and 50
 * concurrent users and logins per second, against argon2's own hash time
 * measured in the same run (bound: cores ÷ one hash); session-verify round
 * trip; heartbeats one auth node answers per second.
 *
 * One prime on a real nats-server; auth nodes get authCapacity 60 here so the
 * 50-user run measures logging in, not spawning 25 processes.
 */
import { at } from "../wire/contract.js";
import { authBeat, authVerify } from "../wire/auth.js";
import type { NatsConnection } from "@nats-io/transport-node";
import { cpus, loadavg } from "node:os";
import { call } from "../actors/runtime/endpoint.js";
import { encodeJson } from "../wire/codec.js";
import { hashOptions, hashPassword, verifyPassword } from "../actors/auth/passwords.js";
import { UserSession } from "../client/auth.js";
import { TestSystem } from "../harness/system.js";
import { elapsedMs, percentile, summary } from "./stats.js";

const users = ["Someone", "AnotherUser", "FinalUser"];
const password = "password123";

async function hashBaseline(): Promise<number[]> {
  const hash = await hashPassword(password);
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t = process.hrtime.bigint();
    await verifyPassword(hash, password);
    times.push(elapsedMs(t));
  }
  return times;
}

/** Verifies per second in this process with one verify per core in flight: what the machine really gives. */
async function parallelHashRate(ms: number): Promise<number> {
  const hash = await hashPassword(password);
  let done = 0;
  const deadline = Date.now() + ms;
  const start = process.hrtime.bigint();
  await Promise.all(
    cpus().map(async () => {
      while (Date.now() < deadline) {
        await verifyPassword(hash, password);
        done++;
      }
    }),
  );
  return done / (elapsedMs(start) / 1000);
}

/** `workers` users log in and out in a loop, for `count` logins each or until `budgetMs`. */
async function loginLoop(
  nc: NatsConnection,
  workers: number,
  count: number,
  budgetMs: number,
): Promise<{ times: number[]; perSecond: number }> {
  const times: number[] = [];
  const start = process.hrtime.bigint();
  const deadline = Date.now() + budgetMs;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; i < count && Date.now() < deadline; i++) {
        const t = process.hrtime.bigint();
        const s = await UserSession.login(nc, users[(w + i) % users.length] as string, password, {
          heartbeats: false,
        });
        times.push(elapsedMs(t));
        await s.logout();
      }
    }),
  );
  return { times, perSecond: times.length / (elapsedMs(start) / 1000) };
}

async function verifyLoop(nc: NatsConnection, session: UserSession): Promise<number[]> {
  const times: number[] = [];
  const subject = at(authVerify, session.authNode);
  for (let i = 0; i < 2000; i++) {
    const t = process.hrtime.bigint();
    await call(nc, subject, session.credentials());
    times.push(elapsedMs(t));
  }
  return times;
}

/** Beats from many sessions, `window` in flight at once, for `ms`: answered beats per second. */
async function beatFlood(
  nc: NatsConnection,
  sessions: UserSession[],
  window: number,
  ms: number,
): Promise<number> {
  let answered = 0;
  const deadline = Date.now() + ms;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: window }, async (_, w) => {
      for (let i = w; Date.now() < deadline; i += window) {
        const s = sessions[i % sessions.length] as UserSession;
        await nc.request(at(authBeat, s.authNode).subject, encodeJson(s.credentials()), {
          timeout: 5000,
        });
        answered++;
      }
    }),
  );
  return answered / (elapsedMs(start) / 1000);
}

export async function run(): Promise<void> {
  const sys = new TestSystem();
  try {
    await sys.startBroker();
    const config = sys.config("prime", {
      maxLoad: 4,
      authCapacity: 60,
      heartbeatMs: 1000,
      idleMs: 120_000,
    });
    await sys.startControl("prime", config);
    // Logins, verifies and beats on an actor connection: sessions without identities of their
    // own, so one connection carries them all (each login still mints its broker JWT).
    const actor = await sys.connect("actor");
    const listener = actor;

    const load = (): string =>
      loadavg()
        .map((l) => l.toFixed(1))
        .join(" ");
    console.log(`load average at start: ${load()} (other work on these cores skews every figure)`);
    const hash = await hashBaseline();
    const hashP50 = percentile(hash, 50);
    const bound = cpus().length / (hashP50 / 1000);
    console.log(
      `argon2id m=${hashOptions.memoryCost / 1024} MiB t=${hashOptions.timeCost} p=${hashOptions.parallelism}, ` +
        `one verify in-process (baseline): ${summary(hash)}`,
    );
    console.log(
      `bound: ${cpus().length} cores ÷ ${hashP50.toFixed(1)} ms = ${bound.toFixed(1)} logins/s`,
    );

    const parallel = await parallelHashRate(3000);
    console.log(
      `in-process, ${cpus().length} verifies in flight: ${parallel.toFixed(1)} verifies/s ` +
        `(${((100 * parallel) / bound).toFixed(0)}% of the bound: shared cores)`,
    );

    // Warm up: the first login spawns the auth node.
    const warm = await UserSession.login(listener, "Someone", password, { heartbeats: false });
    for (const n of await sys.nodes(actor)) sys.track(n.pid);
    await warm.logout();

    // One user: each login is timed right after an in-process verify, so both
    // see the same machine load (other work shares these cores).
    const oneTimes: number[] = [];
    const pairedHash: number[] = [];
    const stored = await hashPassword(password);
    for (let i = 0; i < 30; i++) {
      const h = process.hrtime.bigint();
      await verifyPassword(stored, password);
      pairedHash.push(elapsedMs(h));
      oneTimes.push(...(await loginLoop(listener, 1, 1, 5000)).times);
    }
    const ratio = percentile(oneTimes, 50) / percentile(pairedHash, 50);
    console.log(
      `login (assign + login), 1 user:   ${summary(oneTimes)}; ` +
        `paired verify ${summary(pairedHash)}; p50 ratio ${ratio.toFixed(2)} (target ≤ 1.5)`,
    );
    const fifty = await loginLoop(listener, 50, 4, 40_000);
    console.log(
      `login (assign + login), 50 users: ${summary(fifty.times)}; ` +
        `${fifty.perSecond.toFixed(1)} logins/s = ${((100 * fifty.perSecond) / bound).toFixed(0)}% of the argon2 bound, ` +
        `${((100 * fifty.perSecond) / parallel).toFixed(0)}% of the in-process rate`,
    );

    const session = await UserSession.login(listener, "Someone", password);
    const verify = await verifyLoop(actor, session);
    console.log(`session verify round trip:        ${summary(verify)} (target p99 < 5 ms)`);

    const many: UserSession[] = [];
    for (let i = 0; i < 40; i++) {
      many.push(
        await UserSession.loginAt(listener, session.authNode, users[i % 3] as string, password, {
          heartbeats: false,
        }),
      );
    }
    const beats = await beatFlood(listener, many, 64, 3000);
    console.log(
      `heartbeats one auth node answers:  ${beats.toFixed(0)}/s (64 in flight, 40 sessions) ` +
        `= ${Math.floor(beats)} sessions at one beat per second`,
    );
    session.stopHeartbeats();
    console.log(`load average at end: ${load()}`);
  } finally {
    await sys.cleanup();
  }
}
