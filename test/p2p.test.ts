/**
 * P2P relay against a real system (broker, prime, auth and file nodes the
 * prime spawns, real WAV files): players host what they play, others join at
 * the host's point, follow it, leave and rejoin, and carry on from a file
 * node when the host goes away.
 */
import { at } from "../wire/contract.js";
import { newHostKeys } from "../client/p2p/keys.js";
import { defaultBacklogMs, primeHost, primeHosts, primeJoin, signPresence } from "../wire/p2p.js";
import { AckPolicy, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import type { ChorusConfig } from "../actors/runtime/config.js";
import type { Session } from "../wire/session.js";
import { call } from "../actors/runtime/endpoint.js";
import { encodeFrame, relayFramesPerHost, relayStreamName, type RelayHeader } from "../wire/p2p.js";
import { chunkMs } from "../wire/file.js";
import { subjects } from "../wire/subjects.js";
import { bytesPerSecond } from "../client/audio/format.js";
import { listHosts, type HostView } from "../client/p2p/hosts.js";
import { catchUpMs, joinBacklogMs } from "../client/p2p/join.js";
import type { Player } from "../client/player.js";
import { expiryMs, violations, type TestSystem } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";
import { Recorder, startPlayer } from "../harness/fixtures/p2p.js";
import { formats, startSystem, writeSong, type TestSong } from "../harness/fixtures/player.js";

/**
 * Host and joiner positions after playing a while: the joiner is its start
 * buffer behind, plus what underruns on a busy test machine add (it skips
 * ahead only when it falls `catchUpMs` behind), plus a little for the two
 * positions being read one after the other.
 */
const together = (joinBacklogMs + catchUpMs) / 1000 + 0.05;

describe("P2P relay: hosting and joining (real system)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let songs: TestSong[];
  let client: ChorusConfig;
  let players: Player[] = [];

  before(async () => {
    ({ sys, songs, client } = await startSystem(
      (music) => [
        writeSong(music, "long-cd.wav", 40, formats.cd, 7),
        writeSong(music, "other-8k.wav", 30, formats.mono8k, 8),
      ],
      { authCapacity: 100, maxLoad: 6 },
    ));
  });
  after(async () => sys?.cleanup());
  afterEach(async () => {
    await Promise.all(players.map((p) => p.close()));
    players = [];
  });

  const song = (file: string): TestSong => songs.find((s) => s.file === file) as TestSong;

  async function player(host = true): Promise<Player> {
    const p = await startPlayer(client, host);
    players.push(p);
    return p;
  }

  async function hosting(file: string, from = 0): Promise<Player> {
    const host = await player();
    const id = (await host.songs()).find((s) => s.file === file)!.id;
    await host.play(id, from);
    await waitFor(() => host.position > from + 0.5, "the host to play");
    return host;
  }

  /** The file nodes' egress: bytes the broker received from their connections. */
  async function fileNodeBytes(): Promise<number> {
    const res = await fetch(`${sys.broker!.monitorUrl}/connz?limit=1000`);
    const body = (await res.json()) as { connections: Array<{ name?: string; in_bytes: number }> };
    return body.connections
      .filter((c) => c.name?.startsWith("file/"))
      .reduce((sum, c) => sum + c.in_bytes, 0);
  }

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it("a joiner's first audio is within 100 ms of the host's position, byte for byte the song", async () => {
    const long = song("long-cd.wav");
    const host = await hosting(long.file);
    const joiner = await player(false);
    let hostAtFirst = 0;
    let joinerAtFirst = 0;
    const rec = new Recorder(joiner, songs, () => {
      hostAtFirst = host.position;
      joinerAtFirst = joiner.position;
    });
    await joiner.join(host.hostId!);
    await waitFor(() => rec.firstByte !== undefined, "the joiner's first audio");
    // What the joiner plays first is the host's point, less the small buffer it starts with.
    const skew = hostAtFirst - joinerAtFirst;
    expect(skew, "host minus joiner position at its first audio (s)").to.be.within(-0.01, 0.1);
    const firstByteAt = rec.firstByte! / bytesPerSecond(long.format);
    expect(hostAtFirst - firstByteAt, "host position minus the first byte (s)").to.be.below(0.15);
    await waitFor(() => joiner.position > hostAtFirst + 1, "the joiner to play a second");
    expect(rec.wrong, "pieces that were not the song's bytes").to.equal(0);
    expect(Math.abs(host.position - joiner.position), "still together").to.be.below(together);
    expect(joiner.status().now?.source).to.match(/P2P/);
    expect(joiner.status().now?.title).to.equal("long-cd");
  });

  it("leaving and rejoining lands at the host's new point", async () => {
    const host = await hosting("long-cd.wav");
    const joiner = await player(false);
    const rec = new Recorder(joiner, songs);
    await joiner.join(host.hostId!);
    await waitFor(() => rec.bytes > 0, "the joiner to play");
    await joiner.pause(); // leaves the host
    const left = joiner.position;
    const hostLeft = host.position;
    // Away while the host plays a second on (its new point cannot pass for ours); nothing
    // may play here meanwhile.
    const away = await waitFor(() => {
      if (joiner.position !== left) return `played ${joiner.position - left} s while away`;
      return host.position >= hostLeft + 1 && "away";
    }, "the host to play a second on");
    expect(away, "no audio while away").to.equal("away");
    await joiner.resume(); // rejoins
    await waitFor(() => joiner.position > left + 0.9, "the joiner at the host's new point");
    expect(Math.abs(host.position - joiner.position)).to.be.below(together);
    // Leaving for good (a stop) and joining again does the same.
    await joiner.stop();
    await joiner.join(host.hostId!);
    await waitFor(() => Math.abs(host.position - joiner.position) < 0.1, "joined again");
    expect(rec.wrong).to.equal(0);
  });

  it("follows the host's pause, resume, seek and song change", async () => {
    const host = await hosting("long-cd.wav");
    const joiner = await player(false);
    const rec = new Recorder(joiner, songs);
    await joiner.join(host.hostId!);
    await waitFor(() => rec.bytes > 0, "the joiner to play");
    await host.pause();
    await waitFor(() => joiner.status().now?.state === "paused", "the joiner to pause");
    const at = joiner.position;
    await sleep(400); // an observation window: the joiner stays where the host paused
    expect(joiner.position, "paused with the host").to.equal(at);
    expect(Math.abs(host.position - at)).to.be.below(0.1);
    await host.resume();
    await waitFor(() => joiner.position > at + 0.3, "the joiner to resume");
    const seekAt = performance.now();
    await host.seek(25);
    await waitFor(() => joiner.position > 25, "the joiner at the seek");
    // Not somewhere past it: no further than the time since the seek (and its start buffer).
    expect(joiner.position - 25, "the joiner past the seek (s)").to.be.below(
      (performance.now() - seekAt) / 1000 + together,
    );
    const other = (await host.songs()).find((s) => s.file === "other-8k.wav")!;
    await host.play(other.id, 3);
    await waitFor(() => joiner.status().now?.title === "other-8k", "the joiner on the new song");
    await waitFor(() => joiner.position > 3.2, "the joiner playing the new song");
    expect(Math.abs(host.position - joiner.position)).to.be.below(together);
    expect(rec.wrong, "bytes of the right song everywhere").to.equal(0);
  });

  it("10 joiners on one host add no bytes at the file node", async () => {
    const host = await hosting("long-cd.wav");
    /**
     * Bytes per second the file nodes sent over a measurement window of four chunks: the
     * chunks at its ends move what it counts by half a stream's worth at most.
     */
    const rate = async (): Promise<number> => {
      const before = await fileNodeBytes();
      const t0 = performance.now();
      await sleep(4 * chunkMs);
      return ((await fileNodeBytes()) - before) / ((performance.now() - t0) / 1000);
    };
    const alone = await rate();
    const joiners = await Promise.all(Array.from({ length: 10 }, () => player(false)));
    const recs = joiners.map((j) => new Recorder(j, songs));
    await Promise.all(joiners.map((j) => j.join(host.hostId!)));
    await waitFor(() => recs.every((r) => r.bytes > 0), "all joiners to play");
    const withJoiners = await rate();
    const second = bytesPerSecond(song("long-cd.wav").format);
    // One stream: real time, give or take a 500 ms chunk at each end of the window.
    expect(alone / second, "one stream's worth per second").to.be.within(0.5, 2);
    // A single joiner served by a file node would add a whole stream (10 would add ten):
    // chunk granularity moves a window by at most half a stream's worth.
    expect(withJoiners / second, "file-node bytes per second with 10 joiners").to.be.below(
      alone / second + 0.8,
    );
    for (const r of recs) expect(r.wrong).to.equal(0);
    for (const j of joiners) expect(Math.abs(host.position - j.position)).to.be.below(together);
    const list = await waitFor(async () => {
      const l = await listHosts(host.connection);
      return l.find((h) => h.id === host.hostId && h.listeners === 10) && l;
    }, "the prime to count 10 listeners");
    expect(list.find((h) => h.id === host.hostId)?.song).to.equal("long-cd");
  });

  it("host killed: joiners carry on from a file node at the same point, within a second", async () => {
    const proc = sys.run(["play", "long-cd.wav", "--out", "null", "--user", "Someone"], client, {
      CHORUS_PASSWORD: "password123",
    });
    const nc = (await sys.login("FinalUser")).nc;
    const hostId = await waitFor(async () => {
      const m = /hosting as (U[A-Z2-7]{55})/.exec(proc.output());
      const listed = m && (await listHosts(nc)).find((h) => h.id === m[1] && h.position > 0.5);
      return listed ? listed.id : undefined;
    }, "the host process to play");
    const joiner = await player(false);
    const times: Array<{ t: number; byte: number; end: number }> = [];
    const off = joiner.onChange((e) => {
      if (e.kind === "played")
        times.push({ t: performance.now(), byte: e.byte, end: e.byte + e.pcm.length });
    });
    const rec = new Recorder(joiner, songs);
    await joiner.join(hostId);
    await waitFor(() => joiner.position > 1.5, "the joiner to play");
    process.kill(proc.child.pid!, "SIGKILL");
    const killedAt = performance.now();
    await waitFor(() => /file node/.test(joiner.status().now?.source ?? ""), "a file node");
    const was = joiner.position;
    await waitFor(() => joiner.position > was + 0.5, "playing from the file node");
    off();
    let gap = 0;
    let jumps = 0;
    for (let i = 1; i < times.length; i++) {
      const [a, b] = [times[i - 1]!, times[i]!];
      if (b.t > killedAt - 200) gap = Math.max(gap, b.t - a.t);
      if (b.byte !== a.end) jumps++;
    }
    expect(gap, "longest silence after the kill (ms)").to.be.below(1000);
    expect(jumps, "no byte lost or repeated across the switch").to.equal(0);
    expect(rec.wrong).to.equal(0);
  });

  it("a chain (a joiner hosting in turn) keeps the position true", async () => {
    const a = await hosting("long-cd.wav");
    const b = await player();
    const bRec = new Recorder(b, songs);
    await b.join(a.hostId!);
    await waitFor(() => bRec.bytes > 0, "b to play (and relay)");
    const c = await player(false);
    const rec = new Recorder(c, songs);
    await c.join(b.hostId!);
    await waitFor(() => rec.bytes > 0, "c to play");
    // Steady state: c has played a second since its first audio.
    const settled = c.position + 1;
    await waitFor(() => c.position >= settled, "c to play on for a second");
    // Two hops: each may be its own start buffer and catch-up distance behind.
    expect(Math.abs(a.position - c.position), "c against a (s)").to.be.below(2 * together);
    expect(rec.wrong).to.equal(0);
    const viaB = (await listHosts(a.connection)).find((h) => h.id === b.hostId);
    expect(viaB?.depth).to.equal(1);
    // a pauses: b and c pause too.
    await a.pause();
    await waitFor(() => c.status().now?.state === "paused", "c to pause with a");
  });

  describe("bad input", () => {
    it("joining a host that does not exist, or has stopped", async () => {
      const joiner = await player(false);
      const err = await joiner.join("hnosuchhost").catch((e: unknown) => e as Error);
      expect(err).to.be.instanceOf(Error);
      expect((err as Error).message).to.match(/no host "hnosuchhost" is playing now/);
      const host = await hosting("other-8k.wav");
      const id = host.hostId!;
      await host.stop();
      await waitFor(
        async () => !(await listHosts(host.connection)).some((h) => h.id === id),
        "the stopped host to leave the list",
      );
      const err2 = await joiner.join(id).catch((e: unknown) => e as Error);
      expect((err2 as Error).message).to.match(/no host|stopped/);
      expect(joiner.status().now).to.equal(undefined);
    });

    it("a dead session cannot join, and a listener cannot read the relay around the prime", async () => {
      const host = await hosting("long-cd.wav");
      const mine = await sys.login("FinalUser");
      const nc = mine.nc;
      const forged = { authNode: "auth-nope", sessionId: "x", token: "y" };
      const err = await call(nc, at(primeJoin), {
        session: forged,
        host: host.hostId!,
        deliver: mine.newInbox(),
      }).catch((e: unknown) => e as Error);
      expect((err as Error).message).to.match(/no live session/);
      const ljsm = await jetstreamManager(nc);
      const denied = await ljsm.consumers
        .add(relayStreamName, {
          deliver_subject: mine.newInbox(),
          ack_policy: AckPolicy.None,
          filter_subject: subjects.relay(host.hostId!),
        })
        .catch((e: unknown) => e as Error);
      // The broker's own refusal: the listener may not use the JetStream API.
      expect(denied, String(denied))
        .to.be.instanceOf(Error)
        .with.property("message")
        .that.match(/Permissions Violation for Publish to "\$JS\.API\.CONSUMER\./);
    });

    /** A host of our own making: registered at the prime with `session`, beating as `user` until listed. */
    async function fakeHost(
      nc: NatsConnection,
      session: Session,
      id: string,
      user: string,
    ): Promise<{ keys: ReturnType<typeof newHostKeys>; listed: HostView }> {
      const keys = newHostKeys();
      await call(nc, at(primeHost), { session, id, key: keys.publicKey });
      const beat = (): void =>
        nc.publish(
          subjects.hostPresence(id),
          signPresence(
            {
              v: 1,
              id,
              user,
              status: "up",
              state: "playing",
              song: { id: "x", title: "Fake", file: "x.wav", duration: 60 },
              position: 1,
              listeners: 0,
              depth: 0,
              intervalMs: 300,
              at: Date.now(),
            },
            keys.privateKey,
          ),
        );
      const listed = await waitFor(async () => {
        beat();
        return (await call(nc, at(primeHosts), {})).find((h) => h.id === id);
      }, `host ${id} to be listed`);
      return { keys, listed };
    }

    it("a host whose beats claim another user's name is shown and joined as its session's user", async () => {
      const real = await hosting("long-cd.wav");
      const impostor = await sys.login("AnotherUser");
      const nc = impostor.nc;
      try {
        const session = { authNode: impostor.authNode, ...impostor.credentials() };
        const keys = newHostKeys();
        // Its host id is its own client id: registering the real host's is refused.
        const taken = await call(nc, at(primeHost), {
          session,
          id: real.hostId!,
          key: keys.publicKey,
        }).catch((e: unknown) => e);
        expect(taken).to.have.property("code", "FORBIDDEN");
        const id = impostor.clientId;
        const { listed } = await fakeHost(nc, session, id, "Someone");
        expect(listed.user, "shown as").to.equal("AnotherUser");
        // "Someone" names one host only: the real one.
        const joined = await call(nc, at(primeJoin), {
          session,
          host: "Someone",
          deliver: impostor.newInbox(),
        });
        expect(joined.host.id).to.equal(real.hostId);
      } finally {
        await impostor.logout();
      }
    });

    it("joins a host whose relay frames have deleted ones among them (nats-server 2.9 panicked there)", async () => {
      const user = await sys.login("AnotherUser");
      const nc = user.nc;
      const actor = await sys.connect("actor");
      try {
        const session = { authNode: user.authNode, ...user.credentials() };
        const id = user.clientId;
        const { keys } = await fakeHost(nc, session, id, "AnotherUser");
        // Another host's frame, then three times the frames the relay keeps per host: this
        // host's oldest go, leaving deleted sequences inside the stream behind the other's.
        // (A join's start before them, looked up by time, panicked nats-server 2.9.)
        actor.publish(subjects.relay("hgapsother"), Buffer.from("another host's frame"));
        await actor.flush();
        const otherAt = Date.now();
        // The join starts a backlog before the newest frame: after the other host's frame.
        await waitFor(() => Date.now() - otherAt > 2 * defaultBacklogMs, "a backlog's time");
        const format = formats.mono8k;
        const song = { id: "gaps.wav", title: "Gaps", file: "gaps.wav", duration: 60 };
        for (let seq = 0; seq < 3 * relayFramesPerHost; seq++) {
          const header = { v: 1, host: id, seq, epoch: 0, state: "playing", song, format } as const;
          const frame = { ...header, byte: seq * 2, at: Date.now(), depth: 0 };
          nc.publish(subjects.relay(id), encodeFrame(frame, Buffer.alloc(2), keys.privateKey));
        }
        await nc.flush();
        const jsm = await jetstreamManager(await sys.connect("actor"));
        const { state } = await jsm.streams.info(relayStreamName);
        expect(state.num_deleted, "deleted frames inside the relay").to.be.at.least(1);
        const joined = await call(nc, at(primeJoin), {
          session,
          host: id,
          deliver: user.newInbox(),
        });
        expect(joined.host.id).to.equal(id);
        expect(joined.last?.seq).to.equal(3 * relayFramesPerHost - 1);
        expect(sys.broker?.process.exitCode, "the broker still runs").to.equal(null);
      } finally {
        await user.logout();
      }
    });

    it("malformed, forged, foreign and replayed frames are skipped: the joiner plays only the song", async () => {
      const host = await hosting("long-cd.wav");
      const joiner = await player(false);
      const rec = new Recorder(joiner, songs);
      await joiner.join(host.hostId!);
      await waitFor(() => rec.bytes > 0, "the joiner to play");
      const actor = await sys.connect("actor");
      const subject = subjects.relay(host.hostId!);
      // A stranger and another logged-in user may not publish on the host's subjects at all.
      for (const nc of [await sys.connect("listener"), (await sys.login("AnotherUser")).nc]) {
        const seen = violations(nc);
        nc.publish(subject, Buffer.from("forged"));
        nc.publish(subjects.hostPresence(host.hostId!), Buffer.from("forged"));
        await waitFor(() => seen.length >= 2, "both publishes to be denied");
        expect(seen.join("\n")).to.include(`Permissions Violation for Publish to "${subject}"`);
      }
      // Frames that reach the stream anyway (here from an actor connection) are still skipped.
      const evil = actor;
      // A genuine frame to replay later.
      const captured = await new Promise<Uint8Array>((resolve) => {
        const sub = actor.subscribe(subject, {
          callback: (_e, m) => {
            sub.unsubscribe();
            resolve(m.data);
          },
        });
      });
      const keys = newHostKeys();
      const header = (byte: number, seq: number): RelayHeader => ({
        v: 1,
        host: host.hostId!,
        seq,
        epoch: 999,
        state: "playing",
        song: { id: "long-cd.wav", title: "long-cd", file: "long-cd.wav", duration: 40 },
        format: { sampleRate: 44100, channels: 2, bitDepth: 16 },
        byte,
        at: Date.now(),
        depth: 0,
      });
      const garbage = Buffer.alloc(4000, 0x55);
      const before = rec.jumps;
      for (let i = 0; i < 20; i++) {
        evil.publish(subject, garbage); // not a frame
        evil.publish(subject, Buffer.from("{}")); // too short
        // Signed, but with someone else's key: a listener posing as the host.
        evil.publish(subject, encodeFrame(header(i * 4000, 1e9 + i), garbage, keys.privateKey));
        evil.publish(subject, captured); // replayed: out of order
        await sleep(20); // spread the bad frames among the host's genuine ones
      }
      // Everything sent has reached the broker; once the joiner has played on for half a
      // second, it has been offered all of it (one connection delivers in order).
      await evil.flush();
      const at = joiner.position;
      await waitFor(() => joiner.position > at + 0.5, "the joiner to play on");
      expect(rec.wrong, "garbage played").to.equal(0);
      expect(rec.jumps - before, "position jumps").to.equal(0);
      expect(Math.abs(host.position - joiner.position)).to.be.below(together);
    });

    it("a joiner stalled for half its session's expiry drops behind, catches up, and slows nobody", async () => {
      const host = await hosting("long-cd.wav");
      const steady = await player(false);
      const steadyRec = new Recorder(steady, songs);
      await steady.join(host.hostId!);
      const proc = sys.run(
        ["play", "--join", host.hostId!, "--out", "null", "--user", "Someone"],
        client,
        {
          CHORUS_PASSWORD: "password123",
        },
      );
      const nc = (await sys.login("FinalUser")).nc;
      const slowId = await waitFor(async () => {
        const m = /hosting as (U[A-Z2-7]{55})/.exec(proc.output());
        return m && (await listHosts(nc)).some((h) => h.id === m[1]) ? m[1] : undefined;
      }, "the slow joiner to play");
      // A stall of a deliberate length: far beyond the catch-up distance, well inside
      // the expiry of the joiner's session and host presence (nothing may be dropped).
      const stallMs = expiryMs() / 2;
      process.kill(proc.child.pid!, "SIGSTOP");
      const hostBefore = host.position;
      await sleep(stallMs);
      process.kill(proc.child.pid!, "SIGCONT");
      expect(host.position - hostBefore, "the host played on (s)").to.be.above(
        (0.75 * stallMs) / 1000,
      );
      // Beats are up to one interval old: add the time since each to its position.
      const now = (h: HostView): number => h.position + h.lastSeenMs / 1000;
      let apart = NaN;
      await waitFor(
        async () => {
          const l = await listHosts(nc);
          const slow = l.find((h) => h.id === slowId);
          const top = l.find((h) => h.id === host.hostId);
          apart = slow && top ? Math.abs(now(top) - now(slow)) : NaN;
          return apart < 0.3;
        },
        "the slow joiner to catch up",
        8000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; ${apart} s apart; joiner said: ${proc.output()}`);
      });
      expect(steadyRec.wrong).to.equal(0);
      expect(steadyRec.jumps, "the other joiner never skipped").to.equal(0);
      expect(Math.abs(host.position - steady.position)).to.be.below(together);
      await proc.stop();
    });
  });

  it("keeps the relay stream bounded, and lists hosts with chorus hosts --json", async () => {
    const host = await hosting("long-cd.wav");
    await waitFor(() => host.position > 5, "the host to play 5 s", 15_000);
    const jsm = await jetstreamManager(await sys.connect("actor"));
    const info = await jsm.streams.info(relayStreamName, {
      subjects_filter: subjects.relay(host.hostId!),
    });
    const frames = info.state.subjects?.[subjects.relay(host.hostId!)] ?? 0;
    expect(frames).to.be.within(1, relayFramesPerHost);
    expect(info.config.storage).to.equal("memory");
    const proc = sys.run(["hosts", "--json", "--user", "FinalUser"], client, {
      CHORUS_PASSWORD: "password123",
    });
    expect(await proc.exited).to.equal(0);
    const list = JSON.parse(proc.output()) as Array<{ id: string; song: string; position: number }>;
    const me = list.find((h) => h.id === host.hostId);
    expect(me?.song).to.equal("long-cd");
    expect(me?.position).to.be.above(4);
  });
});
