/**
 * The prime is a role one control node holds at a time, by a lease on
 * JetStream KV: a second prime waits as a standby, and when the holder is
 * SIGKILLed a standby or a plane serves the prime's subjects within 3 beats.
 */
import { expect } from "chai";
import { NoRespondersError, type NatsConnection } from "@nats-io/transport-node";
import { encodeJson } from "../wire/codec.js";
import { primeNodes } from "../wire/prime.js";
import type { NodeView } from "../wire/presence.js";
import { listNodes } from "../client/registry.js";
import { leaseBeats, leaseBucket, leaseKey } from "../actors/control/prime-lease.js";
import { Kvm } from "@nats-io/kv";
import { presenceSchema } from "../wire/presence.js";
import { subjects } from "../wire/subjects.js";
import { safeJson } from "../wire/codec.js";
import { TestSystem, testTiming, type ChorusProcess } from "../harness/system.js";
import { pidAlive, waitFor } from "../harness/wait.js";
import path from "node:path";
import { listHosts } from "../client/p2p/hosts.js";
import type { Player } from "../client/player.js";
import { startPlayer } from "../harness/fixtures/p2p.js";
import { formats, writeSong } from "../harness/fixtures/player.js";
import { sha256OrUndefined, writeWav } from "../harness/fixtures/sync.js";

/** How many processes answer one request on the prime's registry subject. */
async function primeResponders(nc: NatsConnection): Promise<number> {
  const replies = await nc.requestMany(primeNodes.subject, encodeJson({}), {
    strategy: "timer",
    maxWait: 2 * testTiming.heartbeatMs,
  });
  let n = 0;
  try {
    for await (const msg of replies) if (msg.data.length > 0) n++;
  } catch (err) {
    if (!(err instanceof NoRespondersError)) throw err;
  }
  return n;
}

/** A lease outlives its holder this long at most. */
const leaseTtlMs = leaseBeats.ttl * testTiming.heartbeatMs;

describe("the prime lease (real nats-server, real processes)", function () {
  this.timeout(90_000);
  let sys: TestSystem;
  let nc: NatsConnection;

  beforeEach(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    nc = await sys.connect("actor");
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed") console.log(sys.outputs());
    await sys.cleanup();
  });

  /** Start a second control node and wait until the prime's registry lists it. */
  const startStandby = async (
    command: "prime" | "plane",
    name: string,
  ): Promise<{ proc: ChorusProcess; id: string }> => {
    const before = new Set((await sys.nodes(nc)).map((n) => n.id));
    const proc = sys.run([command], sys.config(name));
    const id = await waitFor(async () => {
      if (proc.child.exitCode !== null) throw new Error(`${command} exited: ${proc.output()}`);
      return (await sys.nodes(nc)).find((n) => n.owner === n.id && !before.has(n.id))?.id;
    }, `the second ${command} to join`);
    return { proc, id };
  };

  it("two primes on one broker: one serves, the other waits as a standby plane", async () => {
    const first = await sys.startControl("prime", sys.config("prime-a"));
    const second = await startStandby("prime", "prime-b");
    const control = (list: NodeView[]): Record<string, string> =>
      Object.fromEntries(list.filter((n) => n.owner === n.id).map((n) => [n.id, n.kind]));
    expect(control(await sys.nodes(nc))).to.deep.equal({
      [first.id]: "prime",
      [second.id]: "plane",
    });
    // Exactly one process answers the prime's subjects, over several lease lifetimes.
    const until = Date.now() + 3 * leaseTtlMs;
    while (Date.now() < until) expect(await primeResponders(nc)).to.equal(1);
    // One login spawns one auth node, not one per prime.
    await sys.login();
    const auth = (await sys.nodes(nc)).filter((n) => n.kind === "auth");
    expect(auth.map((n) => n.owner)).to.deep.equal([first.id]);
    expect(control(await sys.nodes(nc))[first.id]).to.equal("prime");
  });

  for (const standby of ["plane", "prime"] as const) {
    it(`a SIGKILLed prime's role goes to a ${standby} within 3 beats; logins work within 3 s`, async () => {
      // The auth node runs on the survivor's machine: the dead prime's own
      // nodes stop with it (issue 14 part 2), and a spawn on a loaded machine
      // alone can take seconds, which would measure the spawn, not the takeover.
      const prime = await sys.startControl("prime", sys.config("prime", { maxLoad: 0 }));
      const other = await startStandby(standby, `standby-${standby}`);
      await sys.login();
      expect((await sys.nodes(nc)).find((n) => n.kind === "auth")?.owner).to.equal(other.id);
      const killedAt = Date.now();
      prime.proc.child.kill("SIGKILL");
      // A client logs in again at once, while the standby takes over (short
      // request timeouts: a request the dying prime took gets no answer).
      const [takenOver, session] = await Promise.all([
        waitFor(
          async () => {
            const list = await listNodes(nc, 250);
            return list.find((n) => n.id === other.id && n.kind === "prime") && Date.now();
          },
          "the standby to serve as prime",
          10_000,
          10,
        ),
        waitFor(() => sys.login().catch(() => undefined), "a login after the kill", 10_000),
      ]);
      const loggedInAt = Date.now();
      console.log(
        `      takeover ${takenOver - killedAt} ms, login ${loggedInAt - killedAt} ms after SIGKILL`,
      );
      // The lease expires within its TTL; a candidate asks every half beat: 3 beats, plus slack.
      expect(takenOver - killedAt, "ms to takeover").to.be.below(3 * testTiming.heartbeatMs + 500);
      expect(loggedInAt - killedAt, "ms to a new login").to.be.below(3000);
      expect(session.authNode).to.be.a("string");
      // The new prime drops the dead one; only one serves.
      await waitFor(
        async () => !(await sys.nodes(nc)).some((n) => n.id === prime.id),
        "the dead prime to leave the registry",
      );
      expect(await primeResponders(nc)).to.equal(1);
      const auth = (await sys.nodes(nc)).filter((n) => n.kind === "auth");
      expect(auth.every((n) => n.owner === other.id)).to.equal(true);
      expect(pidAlive(prime.proc.child.pid ?? -1)).to.equal(false);
    });
  }

  it("a prime that stops hands the role over at once", async () => {
    const prime = await sys.startControl("prime", sys.config("prime"));
    const other = await startStandby("plane", "plane");
    expect(await prime.proc.stop("SIGTERM")).to.equal(0);
    const stoppedAt = Date.now();
    await waitFor(
      async () => (await listNodes(nc, 250)).find((n) => n.id === other.id && n.kind === "prime"),
      "the plane to serve as prime",
      10_000,
      10,
    );
    // It deleted its key on the way out: no waiting for the lease to expire.
    expect(Date.now() - stoppedAt, "ms from the prime's exit to the takeover").to.be.below(
      leaseTtlMs,
    );
    // The new prime spawns what it needs.
    const session = await sys.login();
    expect((await sys.nodes(nc)).find((n) => n.id === session.authNode)?.owner).to.equal(other.id);
  });

  it("after a takeover the new prime lists P2P hosts again and carries on music sync", async () => {
    const planes = ["plane-a", "plane-b"];
    const cfg = (name: string, maxLoad = 6) =>
      sys.config(name, { syncIntervalMs: 300, authCapacity: 10, maxLoad });
    for (const name of planes) writeSong(cfg(name).music, "long.wav", 60, formats.cd, 3);
    const prime = await sys.startControl("prime", cfg("prime", 0));
    const ids: string[] = [];
    for (const name of planes) ids.push((await startStandby("plane", name)).id);
    const host: Player = await startPlayer(sys.config("client"));
    try {
      const song = (await host.songs()).find((s) => s.file === "long.wav");
      await host.play(song!.id, 0);
      await waitFor(
        async () => (await listHosts(nc)).find((h) => h.id === host.hostId),
        "the host to be listed",
      );
      const killedAt = Date.now();
      prime.proc.child.kill("SIGKILL");
      const heir = await waitFor(
        async () => (await listNodes(nc, 250)).find((n) => n.kind === "prime" && n.id !== prime.id),
        "a plane to serve as prime",
        10_000,
        10,
      );
      // Hosts bind their key again at the new prime every few beats (client/p2p/host.ts).
      await waitFor(
        async () => (await listHosts(nc)).find((h) => h.id === host.hostId && h.position > 0),
        "the host to be listed by the new prime",
      );
      console.log(`      host listed again ${Date.now() - killedAt} ms after SIGKILL`);
      expect(host.status().now?.state).to.equal("playing");
      // Sync: a file added on the other plane reaches the new prime.
      const other = planes[ids.indexOf(heir.id) === 0 ? 1 : 0]!;
      const heirName = planes[ids.indexOf(heir.id)]!;
      const hash = await writeWav(path.join(cfg(other).music, "after the kill.wav"), 100_000);
      await waitFor(
        async () =>
          (await sha256OrUndefined(path.join(cfg(heirName).music, "after the kill.wav"))) === hash,
        "the new file to reach the new prime",
      );
    } finally {
      await host.close();
    }
  });

  it("a holder whose lease another took stops serving at once; the role comes back after the TTL", async () => {
    const prime = await sys.startControl("prime", sys.config("prime"));
    const kinds: Array<{ at: number; kind: string }> = [];
    nc.subscribe(subjects.presenceOf(prime.id), {
      callback: (err, msg) => {
        const p = presenceSchema.safeParse(err ? null : safeJson(msg.data));
        if (p.success) kinds.push({ at: Date.now(), kind: p.data.kind });
      },
    });
    const kv = await new Kvm(nc).open(leaseBucket);
    const takenAt = Date.now();
    // As a cut-off holder finds it: somebody else holds the lease now.
    await kv.put(
      leaseKey,
      encodeJson({ id: "plane-elsewhere", host: "elsewhere", since: takenAt }),
    );
    const gaveUp = await waitFor(
      () => kinds.find((k) => k.at > takenAt && k.kind === "plane")?.at,
      "the holder to give the role up",
    );
    expect(gaveUp - takenAt, "ms to give the role up").to.be.below(testTiming.heartbeatMs + 300);
    expect(await primeResponders(nc)).to.equal(0);
    // The other holder never renews: its key expires, and the prime takes the role again.
    await waitFor(
      async () => (await listNodes(nc, 250)).find((n) => n.id === prime.id && n.kind === "prime"),
      "the prime to hold the role again",
      10_000,
      10,
    );
  });
});
