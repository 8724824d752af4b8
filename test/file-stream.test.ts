import { at } from "../wire/contract.js";
import { fileControl } from "../wire/file.js";
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { rmSync } from "node:fs";
import path from "node:path";
import type { ChorusConfig } from "../actors/runtime/config.js";
import {
  findFileNode,
  listSongs,
  play,
  type FileNodeRef,
  type ChunkReader,
} from "../client/stream.js";
import { call } from "../actors/runtime/endpoint.js";
import { UserSession } from "../client/auth.js";
import { wireSession } from "../client/file-stream.js";
import { orphanGraceMs } from "../actors/file/session-watch.js";
import type { Session } from "../wire/session.js";
import { copyDemoMusic, pcmOf, writeTone } from "../harness/fixtures/file.js";
import { dropBoundMs, expiryMs, testTiming, TestSystem } from "../harness/system.js";
import { pidAlive, waitFor } from "../harness/wait.js";

/** Everything the iterator yields, checked to be contiguous. */
async function collect(playback: ChunkReader, limitBytes = Infinity): Promise<Buffer> {
  const parts: Buffer[] = [];
  let next: number | undefined;
  let total = 0;
  for await (const chunk of playback) {
    if (next !== undefined) expect(chunk.byte, "contiguous chunks").to.equal(next);
    next = chunk.byte + chunk.data.length;
    parts.push(Buffer.from(chunk.data));
    total += chunk.data.length;
    if (total >= limitBytes) break;
  }
  return Buffer.concat(parts);
}

describe("file nodes: streaming (real nats-server, real WAV files, real processes)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let config: ChorusConfig;
  let actor: NatsConnection;
  let listener: NatsConnection;
  const sessions = new Map<string, UserSession>();
  /** A real login at an auth node the prime picks (demo users, password123). */
  const freshLogin = async (user: string): Promise<UserSession> => {
    sessions.get(user)?.stopHeartbeats();
    const session = await sys.login(user);
    sessions.set(user, session);
    for (const n of await sys.nodes(actor)) sys.track(n.pid);
    return session;
  };
  const login = async (user: string): Promise<UserSession> => {
    const known = sessions.get(user);
    return known?.alive ? known : freshLogin(user);
  };
  let node: FileNodeRef;
  let songs: string[];

  const startSystem = async (overrides: Partial<ChorusConfig> = {}): Promise<void> => {
    sys = new TestSystem();
    await sys.startBroker();
    config = sys.config("prime", { maxLoad: 4, idleMs: 60_000, ...overrides });
    songs = copyDemoMusic(config.music);
    await sys.startControl("prime", config);
    actor = await sys.connect("actor");
    listener = await sys.connect("listener");
    node = await findFileNode(listener);
    for (const n of await sys.nodes(actor)) sys.track(n.pid);
  };
  const stopSystem = async (): Promise<void> => {
    for (const s of sessions.values()) s.stopHeartbeats();
    sessions.clear();
    await sys.cleanup();
  };
  /** A system of its own for tests that restart the broker or need other timing. */
  const restartSystem = async (overrides: Partial<ChorusConfig>): Promise<void> => {
    await stopSystem();
    await startSystem(overrides);
  };

  // One system for the whole file (tests that need their own come last).
  before(async () => startSystem());
  after(async () => stopSystem());

  it("delivers each demo format bit-exact from the start and from a position, no chunk lost or repeated", async () => {
    const session = await login("Someone");
    const listing = await listSongs(session.nc, session, node.id);
    expect(listing.map((s) => s.file).sort()).to.deep.equal([...songs].sort());
    for (const song of listing) {
      const pcm = await pcmOf(path.join(config.music, song.file));
      const whole = await collect(await play(session.nc, session, song.id, { node: node.id }));
      expect(whole.equals(pcm), `${song.file} from 0`).to.equal(true);

      const from = 1.3;
      const playback = await play(session.nc, session, song.file, { node: node.id, from });
      const { sampleRate, channels, bitDepth } = song.format;
      const startByte = (Math.floor(from * sampleRate) * (channels * bitDepth)) / 8;
      const rest = await collect(playback);
      expect(rest.equals(pcm.subarray(startByte)), `${song.file} from ${from}`).to.equal(true);
      expect((await playback.ended).reason).to.equal("eos");
    }
  });

  it("streams two users' different songs from one node at once", async () => {
    const a = await login("Someone");
    const b = await login("AnotherUser");
    const [pa, pb] = await Promise.all([
      play(a.nc, a, songs[0] as string, { node: node.id }),
      play(b.nc, b, songs[1] as string, { node: node.id }),
    ]);
    expect(pa.streamId).not.to.equal(pb.streamId);
    const view = await waitFor(
      async () => (await sys.nodes(actor)).find((n) => n.id === node.id && n.load >= 2),
      "node load 2",
    );
    expect(view.load).to.be.at.least(2);
    const [ba, bb] = await Promise.all([collect(pa), collect(pb)]);
    expect(ba.equals(await pcmOf(path.join(config.music, songs[0] as string)))).to.equal(true);
    expect(bb.equals(await pcmOf(path.join(config.music, songs[1] as string)))).to.equal(true);
  });

  it("pauses, resumes and seeks where asked", async () => {
    writeTone(path.join(config.music, "long.wav"), 20, { rate: 44100, channels: 2, bits: 16 });
    const pcm = await pcmOf(path.join(config.music, "long.wav"));
    const session = await login("Someone");
    const playback = await play(session.nc, session, "long.wav", { node: node.id });
    const it = playback[Symbol.asyncIterator]();
    const first = (await it.next()).value;
    expect(first.frame).to.equal(0);

    // Pause: the iterator yields nothing more and the node stops sending after its window.
    await playback.pause();
    let yielded = false;
    const during = it.next().then((r) => {
      yielded = true;
      return r;
    });
    // An observation window: nothing may arrive while paused.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(yielded, "no chunk while paused").to.equal(false);
    await playback.resume();
    const second = (await during).value;
    expect(second.byte).to.equal(first.byte + first.data.length);

    // Seek forwards and backwards: the next chunk starts exactly there, with the file's bytes.
    for (const at of [12.25, 3.5]) {
      await playback.seek(at);
      const chunk = (await it.next()).value;
      const frame = Math.floor(at * 44100);
      expect(chunk.frame, `seek ${at}`).to.equal(frame);
      expect(
        Buffer.from(chunk.data).equals(pcm.subarray(frame * 4, frame * 4 + chunk.data.length)),
      ).to.equal(true);
      const after = (await it.next()).value;
      expect(after.byte).to.equal(chunk.byte + chunk.data.length);
    }
    await playback.stop();
    expect((await playback.ended).reason).to.equal("stopped");
    // The node forgot the stream: controlling it now is NOT_FOUND.
    const err = await call(session.nc, at(fileControl, node.id), {
      op: "resume",
      session: { authNode: session.authNode, ...session.credentials() },
      streamId: playback.streamId,
    }).catch((e: unknown) => e);
    expect(err).to.have.property("code", "NOT_FOUND");
  });

  it("stays a bounded window ahead of the reported position", async () => {
    writeTone(path.join(config.music, "long.wav"), 30, { rate: 22050, channels: 1, bits: 16 });
    const session = await login("Someone");
    let received = 0;
    const playback = await play(session.nc, session, "long.wav", {
      node: node.id,
      manualPosition: true,
      onChunk: () => received++,
    });
    // Nothing reported as played: the node fills its window of 2 s (a short first chunk of
    // 100 ms, then 500 ms chunks: 5 chunks, 2.1 s) and waits.
    await waitFor(() => received >= 5, "the window");
    // An observation window: no chunk beyond the window may come.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).to.equal(5);
    // Played 1 s: the window reaches 3 s, two more chunks (to 3.1 s).
    playback.played(playback.chunkFrames * 2);
    await waitFor(() => received >= 7, "two more chunks");
    // An observation window again: two chunks, no more.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).to.equal(7);
    await playback.stop();
  });

  it("refuses a logged-out user, and stops a running stream when its session dies", async () => {
    writeTone(path.join(config.music, "long.wav"), 30, { rate: 22050, channels: 1, bits: 16 });
    const session = await freshLogin("FinalUser");
    const playback = await play(session.nc, session, "long.wav", { node: node.id });
    const it = playback[Symbol.asyncIterator]();
    await it.next();
    await session.logout();
    const loggedOutAt = Date.now();
    const end = await playback.ended;
    expect(end.reason).to.equal("session");
    // The node checks sessions every beat and ends a refused one at once: well
    // within the missed-beat limit.
    expect(Date.now() - loggedOutAt, "ms from logout to the end").to.be.below(expiryMs());
    const err = await play(session.nc, session, "long.wav", { node: node.id }).catch((e) => e);
    expect(err).to.have.property("code", "UNAUTHORIZED");
    const listErr = await listSongs(session.nc, session, node.id).catch((e) => e);
    expect(listErr).to.have.property("code", "UNAUTHORIZED");

    // An auth node that vanishes (SIGKILL) orphans its sessions' streams: they play on for
    // the grace, then end, unless their listener rebinds them.
    const other = await freshLogin("FinalUser");
    const p2 = await play(other.nc, other, "long.wav", { node: node.id });
    const authNode = (await sys.nodes(actor)).find((n) => n.id === other.authNode);
    process.kill(authNode?.pid as number, "SIGKILL");
    const killedAt = Date.now();
    expect((await p2.ended).reason).to.equal("session");
    const endedAfter = Date.now() - killedAt;
    expect(endedAfter, "ms from SIGKILL to the end").to.be.above(orphanGraceMs - expiryMs());
    expect(endedAfter, "ms from SIGKILL to the end").to.be.below(orphanGraceMs + dropBoundMs());
  });

  it("lets only its owner move an orphaned stream to a new session of the same user", async () => {
    writeTone(path.join(config.music, "long.wav"), 30, { rate: 22050, channels: 1, bits: 16 });
    // One client identity, two logins as the player makes them: its inbox is the new session's too.
    const identity = sys.identity("rebind-client");
    const bootstrap = await sys.connect("listener");
    const first = await UserSession.login(bootstrap, "FinalUser", "password123", { identity });
    first.stopHeartbeats();
    const reader = await play(first.nc, first, "long.wav", { node: node.id });
    const it = reader[Symbol.asyncIterator]();
    await it.next();
    const authNode = (await sys.nodes(actor)).find((n) => n.id === first.authNode);
    process.kill(authNode?.pid as number, "SIGKILL");
    const again = await UserSession.login(bootstrap, "FinalUser", "password123", { identity });
    sessions.set("rebound", again);
    const old = wireSession(first);
    const rebind = (nc: NatsConnection, session: Session, to: Session): Promise<unknown> =>
      call(nc, at(fileControl, node.id), { op: "rebind", session, streamId: reader.streamId, to });
    const refused = (p: Promise<unknown>): Promise<unknown> =>
      p.then(
        () => "taken",
        (e) => e,
      );
    // Without the old token: FORBIDDEN.
    const forged = { ...old, token: "x".repeat(old.token.length) };
    expect(await refused(rebind(again.nc, forged, wireSession(again)))).to.have.property(
      "code",
      "FORBIDDEN",
    );
    // To another user's session, or to a session whose connection is not the stream's inbox.
    const stranger = await freshLogin("AnotherUser");
    expect(await refused(rebind(again.nc, old, wireSession(stranger)))).to.have.property(
      "code",
      "FORBIDDEN",
    );
    const elsewhere = await freshLogin("FinalUser");
    expect(await refused(rebind(again.nc, old, wireSession(elsewhere)))).to.have.property(
      "code",
      "FORBIDDEN",
    );
    // The owner, to its new session: the stream is the new session's now (the old one may not
    // steer it), and it plays on past the grace, to the end.
    await reader.rebind(again);
    const steer = (session: Session): Promise<unknown> =>
      call(again.nc, at(fileControl, node.id), {
        op: "resume",
        session,
        streamId: reader.streamId,
      });
    expect(await refused(steer(old))).to.have.property("code", "FORBIDDEN");
    await steer(wireSession(again));
    // Deliberately past the grace: an orphan not rebound would have ended by now.
    await new Promise((resolve) => setTimeout(resolve, orphanGraceMs + dropBoundMs()));
    const pcm = await pcmOf(path.join(config.music, "long.wav"));
    let next = 0;
    for (;;) {
      const { value, done } = await it.next();
      if (done) break;
      next = value.byte + value.data.length;
      if (next >= pcm.length) break;
    }
    expect((await reader.ended).reason).to.equal("eos");
    expect(next).to.equal(pcm.length);
  });

  it("stops a stream whose file is deleted, with a clear reason", async () => {
    const file = path.join(config.music, "doomed.wav");
    writeTone(file, 20, { rate: 22050, channels: 1, bits: 16 });
    const pcm = await pcmOf(file);
    const session = await login("Someone");
    const playback = await play(session.nc, session, "doomed.wav", { node: node.id });
    const it = playback[Symbol.asyncIterator]();
    const first = (await it.next()).value;
    rmSync(file);
    // What still comes is the file's next bytes, contiguous, and it stops short of the end.
    const from = first.byte + first.data.length;
    const rest = await collect(playback);
    expect(rest.equals(pcm.subarray(from, from + rest.length)), "the file's bytes").to.equal(true);
    expect(from + rest.length, "bytes delivered in all").to.be.below(pcm.length);
    const end = await playback.ended;
    expect(end.reason).to.equal("removed");
    expect(end.message).to.match(/removed/);
    // The node knows it too: a report that overtakes the end marker is told the same reason.
    const reply = await call(session.nc, at(fileControl, node.id), {
      op: "position",
      session: { authNode: session.authNode, ...session.credentials() },
      streamId: playback.streamId,
      frame: 0,
    });
    expect(reply).to.deep.include({ state: "ended", end: "removed", message: end.message });
  });

  it("keeps every listener's place across a broker restart", async () => {
    // Sessions must outlive the restart at their auth node (a loaded machine may take
    // seconds to stop and start a JetStream broker): 6 s of missed beats.
    await restartSystem({ missedBeats: Math.ceil(6000 / testTiming.heartbeatMs) });
    writeTone(path.join(config.music, "long.wav"), 12, { rate: 44100, channels: 2, bits: 16 });
    const pcm = await pcmOf(path.join(config.music, "long.wav"));
    const session = await login("Someone");
    const playback = await play(session.nc, session, "long.wav", { node: node.id });
    const parts: Buffer[] = [];
    let restarted = false;
    for await (const chunk of playback) {
      parts.push(Buffer.from(chunk.data));
      if (!restarted && chunk.time >= 3) {
        restarted = true;
        const port = sys.broker?.port as number;
        await sys.stopBroker();
        await sys.startBroker(port);
      }
    }
    expect(restarted).to.equal(true);
    expect(await playback.ended).to.deep.equal({ reason: "eos" });
    expect(Buffer.concat(parts).equals(pcm)).to.equal(true);
  });

  it("stops an idle file node, which leaves the registry", async () => {
    const idleMs = 600;
    await restartSystem({ idleMs });
    // The login may take a while (spawning an auth node on a busy machine); the file
    // node found at the start may have idled out meanwhile, so ask for one now.
    const session = await login("Someone");
    node = await findFileNode(listener);
    const view = (await sys.nodes(actor)).find((n) => n.id === node.id);
    sys.track(view?.pid as number);
    // Busy while a stream plays...
    const playback = await play(session.nc, session, songs[0] as string, {
      node,
      manualPosition: true,
    });
    // Deliberately longer than idleMs: a node with a stream is not idle.
    await new Promise((resolve) => setTimeout(resolve, idleMs * 1.5));
    expect((await sys.nodes(actor)).map((n) => n.id)).to.include(node.id);
    await playback.stop();
    // ...then idle for idleMs: gone from the registry and the process exits.
    await waitFor(
      async () => !(await sys.nodes(actor)).some((n) => n.id === node.id),
      "idle node to leave",
    );
    await waitFor(() => !pidAlive(view?.pid as number), "idle node process to exit");
  });
});
