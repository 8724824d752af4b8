/**
 * Issue 13, part 3 (a): with only the listener password, a flood of
 * `chorus.prime.assign` requests that never log in (or never play) must not
 * make the prime spawn nodes, and real users keep getting in meanwhile.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { call } from "../actors/runtime/endpoint.js";
import { UserSession } from "../client/auth.js";
import { findFileNode, play } from "../client/stream.js";
import { copyDemoMusic } from "../harness/fixtures/file.js";
import { TestSystem } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";
import { at } from "../wire/contract.js";
import { ChorusError } from "../wire/errors.js";
import type { SpawnableKind } from "../wire/presence.js";
import { primeAssign } from "../wire/prime.js";

const password = "password123";

/**
 * `count` assign requests for `kind`, one every `everyMs`, none followed by
 * a login or a play. Resolves with each request's outcome ("ok" or its code).
 */
function assignFlood(
  nc: NatsConnection,
  kind: SpawnableKind,
  count: number,
  everyMs: number,
): Promise<string[]> {
  const outcomes: Array<Promise<string>> = [];
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      outcomes.push(
        call(nc, at(primeAssign), { kind }, 5000).then(
          () => "ok",
          (err: unknown) => (err instanceof ChorusError ? err.code : String(err)),
        ),
      );
      if (outcomes.length >= count) {
        clearInterval(timer);
        resolve(Promise.all(outcomes));
      }
    }, everyMs);
  });
}

function tally(codes: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of codes) counts[c] = (counts[c] ?? 0) + 1;
  return counts;
}

describe("assign floods: claims nobody uses cannot make the prime spawn (issue 13)", function () {
  this.timeout(90_000);
  let sys: TestSystem;
  let actorNc: NatsConnection;
  let listener: NatsConnection;
  const sessions: UserSession[] = [];

  beforeEach(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    actorNc = await sys.connect("actor");
    listener = await sys.connect("listener");
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed") console.log(sys.outputs());
    for (const s of sessions.splice(0)) s.stopHeartbeats();
    await sys.cleanup();
  });

  /** The nodes of `kind` in the registry; every PID is tracked so cleanup stops it. */
  const nodesOf = async (kind: SpawnableKind): Promise<string[]> => {
    const nodes = (await sys.nodes(actorNc)).filter((n) => n.kind === kind);
    for (const n of nodes) sys.track(n.pid);
    return nodes.map((n) => n.id);
  };

  /** Samples the registry until stopped; resolves with every node of `kind` ever seen. */
  const watchNodes = (kind: SpawnableKind): { stop(): Promise<Set<string>> } => {
    const seen = new Set<string>();
    let running = true;
    const loop = (async () => {
      while (running) {
        for (const id of await nodesOf(kind).catch(() => [])) seen.add(id);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        for (const id of await nodesOf(kind)) seen.add(id);
        return seen;
      },
    };
  };

  it("5 auth assigns a second for 10 s (two claim lifetimes) spawn at most one extra auth node; a real user logs in within 2 s throughout", async () => {
    await sys.startControl("prime", sys.config("prime", { maxLoad: 8 }));
    // A running system: one auth node, which a user has used.
    const warm = await sys.login("Someone", password);
    await warm.logout();
    const before = await nodesOf("auth");
    expect(before).to.have.length(1);

    const watcher = watchNodes("auth");
    const started = Date.now();
    const flood = assignFlood(listener, "auth", 50, 200);
    let done = false;
    void flood.then(() => (done = true));

    // A real user logs in (and out) again and again while the flood goes on.
    const loginMs: number[] = [];
    for (let i = 0; i < 8 && !done && Date.now() - started < 15_000; i++) {
      const t0 = Date.now();
      const s = await sys.login("Someone", password, { timeoutMs: 5000 });
      loginMs.push(Date.now() - t0);
      sessions.push(s);
      await s.logout();
      await waitFor(() => Date.now() - t0 >= 1500, "the next login's turn", 3000);
    }
    const codes = await flood;
    const seen = await watcher.stop();

    expect(loginMs.length, "logins made during the flood").to.be.at.least(4);
    expect(
      Math.max(...loginMs),
      `each login during the flood (ms): ${loginMs.join(", ")}`,
    ).to.be.below(2000);
    expect(
      seen.size - before.length,
      `extra auth nodes (flood answers: ${JSON.stringify(tally(codes))})`,
    ).to.be.at.most(1);
    expect(tally(codes)["NO_ROOM"] ?? 0, "assigns refused for lack of room").to.equal(0);
    expect(Date.now() - started, "the flood lasted its 10 s").to.be.at.least(9_500);
  });

  it("file assigns that never play spawn at most one file node; a real listener still plays", async () => {
    const config: ChorusConfig = sys.config("prime", { maxLoad: 8, fileCapacity: 2 });
    const songs = copyDemoMusic(config.music);
    await sys.startControl("prime", config);
    const session = await sys.login("Someone", password);
    sessions.push(session);

    const watcher = watchNodes("file");
    const flood = assignFlood(listener, "file", 40, 200);
    // Halfway through, a real listener is sent to a file node and plays there.
    await waitFor(async () => (await nodesOf("file")).length > 0, "the flood's first file node");
    const t0 = Date.now();
    const node = await findFileNode(listener, 5000);
    const playback = await play(session.nc, session, songs[0] as string, { node });
    const playMs = Date.now() - t0;
    await playback.stop();
    const codes = await flood;
    const seen = await watcher.stop();

    expect(playMs, "finding a file node and starting a stream (ms)").to.be.below(2000);
    expect(seen.size, `file nodes (flood answers: ${JSON.stringify(tally(codes))})`).to.be.at.most(
      2,
    );
    expect(tally(codes)["NO_ROOM"] ?? 0, "assigns refused for lack of room").to.equal(0);
  });
});
