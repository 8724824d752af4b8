/**
 * Several machines without root: three routed nats-server brokers on
 * 127.0.0.1, a prime on broker A, a plane on broker B (its own data folder
 * and host id), a listener on broker C. Each test builds its own cluster.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import path from "node:path";
import { audioStreamName } from "../wire/file.js";
import type { NodeView } from "../wire/presence.js";
import { logIn, type UserSession } from "../client/auth.js";
import { listNodes } from "../client/registry.js";
import { findFileNode, play, type ChunkReader } from "../client/stream.js";
import { pcmOf, writeTone } from "../harness/fixtures/file.js";
import { LoopbackMachines } from "../harness/cluster.js";
import { dropBoundMs } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";

/** The prime's machine runs one node; the plane's has room for more. */
const limits = { prime: { maxLoad: 1 }, plane: { maxLoad: 4 } };

async function collect(playback: ChunkReader): Promise<Buffer> {
  const parts: Buffer[] = [];
  let next: number | undefined;
  for await (const chunk of playback) {
    if (next !== undefined) expect(chunk.byte, "contiguous chunks").to.equal(next);
    next = chunk.byte + chunk.data.length;
    parts.push(Buffer.from(chunk.data));
  }
  return Buffer.concat(parts);
}

describe("a NATS cluster of three brokers on loopback (no root needed)", function () {
  this.timeout(90_000);
  let m: LoopbackMachines;
  /** The listener's machine: the test process talks to broker C only. */
  let atC: NatsConnection;
  let listenerAtC: NatsConnection;
  let primeId: string;
  let planeId: string;
  const sessions: UserSession[] = [];

  const nodes = (): Promise<NodeView[]> => listNodes(atC, 2000);
  const login = async (user: string, password = "password123"): Promise<UserSession> => {
    const session = await logIn(m.config("c"), "test-listener", user, password);
    sessions.push(session);
    for (const n of await nodes()) m.sys.track(n.pid);
    return session;
  };

  beforeEach(async () => {
    m = await LoopbackMachines.create();
    const song = path.join(m.config("b").music, "across.wav");
    writeTone(song, 3, { rate: 22050, channels: 2, bits: 16 });
    ({ primeId, planeId } = await m.start(limits));
    atC = await m.connect("c", "actor");
    listenerAtC = await m.connect("c", "listener");
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed") console.log(m.sys.outputs());
    for (const s of sessions.splice(0)) {
      s.stopHeartbeats();
      await s.nc.close();
    }
    await m.destroy();
  });

  it("lists the prime and the plane on their own machines, and spills to the plane's when the prime's is full", async () => {
    const list = await nodes();
    expect(list.find((n) => n.id === primeId)?.host).to.equal(m.hostId("a"));
    expect(list.find((n) => n.id === planeId)?.host).to.equal(m.hostId("b"));
    // The first node (the auth node of the first login) fills the prime's machine...
    const session = await login("Someone");
    const auth = (await nodes()).find((n) => n.id === session.authNode);
    expect(auth?.owner).to.equal(primeId);
    expect(auth?.host).to.equal(m.hostId("a"));
    // ...so the file node the listener is sent to runs on the plane's machine.
    const node = await findFileNode(listenerAtC);
    const file = await waitFor(
      async () => (await nodes()).find((n) => n.id === node.id),
      "the new file node in the registry",
    );
    expect(file.owner).to.equal(planeId);
    expect(file.host).to.equal(m.hostId("b"));
    expect((await nodes()).find((n) => n.id === primeId)?.load).to.equal(1);
  });

  it("streams from the plane's file node to a listener on another broker, bit-exact, seeks included", async () => {
    const session = await login("Someone");
    const node = await findFileNode(listenerAtC);
    const pcm = await pcmOf(path.join(m.config("b").music, "across.wav"));
    const whole = await collect(await play(session.nc, session, "across.wav", { node: node.id }));
    expect(whole.length).to.equal(pcm.length);
    expect(whole.equals(pcm), "the whole song").to.equal(true);

    const playback = await play(session.nc, session, "across.wav", { node: node.id });
    const it = playback[Symbol.asyncIterator]();
    expect((await it.next()).value.frame).to.equal(0);
    await playback.seek(1.75);
    const frame = Math.floor(1.75 * 22050);
    const rest: Buffer[] = [];
    for (let r = await it.next(); !r.done; r = await it.next())
      rest.push(Buffer.from(r.value.data));
    expect(Buffer.concat(rest).equals(pcm.subarray(frame * 4)), "from the seek").to.equal(true);
    expect(await playback.ended).to.deep.equal({ reason: "eos" });

    // The chunks travelled through the plane machine's own audio stream, on broker B.
    const jsm = await jetstreamManager(atC);
    const info = await jsm.streams.info(audioStreamName(m.hostId("b")));
    expect(info.cluster?.leader).to.equal(m.hostId("b"));
  });

  it("logs in on one machine a user added on another", async () => {
    // An auth node runs on the prime's machine (A).
    const first = await login("Someone");
    const authA = (await nodes()).find((n) => n.id === first.authNode);
    expect(authA?.host).to.equal(m.hostId("a"));
    // The user is added on the plane's machine (B): its own data folder and broker.
    const add = m.on("b", ["user", "add", "Zoë Remote"], {}, { CHORUS_PASSWORD: "far-away-pw" });
    add.child.stdin?.end();
    expect(await add.exited, add.output()).to.equal(0);
    // From C, the prime sends the user to the auth node on A, which learned of them.
    const session = await waitFor(
      () => login("zoë remote", "far-away-pw"),
      "the new user to log in on machine A",
      30_000,
      250,
    );
    expect(session.user).to.equal("Zoë Remote");
    expect(session.authNode).to.equal(first.authNode);
    // A wrong password is still wrong there.
    const wrong = await login("Zoë Remote", "not-the-password").catch((e: unknown) => e);
    expect(wrong).to.have.property("code", "UNAUTHORIZED");
  });

  it("drops exactly the plane machine's nodes when that machine dies, and the rest keeps serving", async () => {
    // Users 1 and 2 fill the auth node on A; user 3's lands on B, and so does the file node.
    const [s1, s2, s3] = [
      await login("Someone"),
      await login("AnotherUser"),
      await login("FinalUser"),
    ];
    const node = await findFileNode(listenerAtC);
    const playback = await play(s3.nc, s3, "across.wav", { node, manualPosition: true });
    const before = await waitFor(async () => {
      const list = await nodes();
      return list.some((n) => n.id === node.id && n.load > 0) && list;
    }, "the stream on the plane's file node");
    const theirs = before.filter((n) => n.owner === planeId);
    expect(theirs.map((n) => n.kind).sort()).to.deep.equal(["auth", "file", "plane"]);
    expect(theirs.find((n) => n.kind === "auth")?.id).to.equal(s3.authNode);
    const kept = before.filter((n) => n.owner !== planeId);
    expect(kept.map((n) => n.kind).sort()).to.deep.equal(["auth", "prime"]);
    expect(s1.authNode).to.equal(s2.authNode);

    const killedAt = Date.now();
    // The machine dies: every process on it at once (its control node's alone would leave
    // orphans that serve on and are adopted: test/orphans.test.ts).
    for (const n of theirs) process.kill(n.pid, "SIGKILL");
    const { heartbeatMs, missedBeats } = m.config("a");
    await waitFor(
      async () => {
        const ids = (await nodes()).map((n) => n.id);
        return theirs.every((n) => !ids.includes(n.id));
      },
      "the plane and its nodes to be dropped",
      20 * missedBeats * heartbeatMs,
    );
    // Dropped after missing its beats: within the expiry plus slack for a busy machine.
    expect(Date.now() - killedAt, "ms from SIGKILL to the drop").to.be.below(
      dropBoundMs(m.config("a")),
    );
    const after = (await nodes()).map((n) => n.id).sort();
    expect(after).to.deep.equal(kept.map((n) => n.id).sort());
    // Its listener's stream went with it (a killed node sends no end marker); the prime's side keeps serving.
    expect(playback.state).not.to.equal("ended");
    await playback.stop().catch(() => undefined);
    await s1.beat();
    expect(s1.alive).to.equal(true);
  });
});
