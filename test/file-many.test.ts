/**
 * Many users at one file node: 30 listeners streaming at once from one node,
 * each getting the file's bytes exactly (some after a seek), the next
 * listeners spilling to a second file node, and a clear NO_ROOM once the
 * prime's machine (maxLoad) and every node (fileCapacity) are full.
 */
import { at } from "../wire/contract.js";
import { frameBytes } from "../wire/media.js";
import { primeSpawn } from "../wire/prime.js";
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import path from "node:path";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { call } from "../actors/runtime/endpoint.js";
import type { UserSession } from "../client/auth.js";
import { findFileNode, play, type ChunkReader } from "../client/stream.js";
import { pcmOf, writeTone } from "../harness/fixtures/file.js";
import { TestSystem } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";

/** Short songs in three formats, so the 60 streams together stay small. */
const songs = [
  { file: "many-a.wav", seconds: 3, rate: 8000, channels: 1, bits: 16 as const },
  { file: "many-b.wav", seconds: 2.5, rate: 11025, channels: 2, bits: 16 as const },
  { file: "many-c.wav", seconds: 3, rate: 16000, channels: 1, bits: 8 as const },
];
const listeners = 30;
const fileCapacity = listeners;

interface Listener {
  session: UserSession;
  song: (typeof songs)[number];
  playback: ChunkReader;
  /** Seconds to seek to after the first chunk, for some listeners. */
  seekTo?: number;
}

/**
 * What a user hears: every chunk in order, and the bytes from the start (or,
 * after a seek, from the seek frame) to the end, checked against the file.
 */
async function hear(l: Listener, pcm: Buffer): Promise<void> {
  const { playback, seekTo } = l;
  const it = playback[Symbol.asyncIterator]();
  const first = await it.next();
  expect(first.done, "a first chunk").to.equal(false);
  let expected: number;
  if (seekTo !== undefined) {
    await playback.seek(seekTo);
    expected = Math.floor(seekTo * playback.format.sampleRate) * frameBytes(playback.format);
  } else {
    expect(first.value.byte).to.equal(0);
    expected = first.value.data.length;
  }
  const from = expected;
  const parts: Buffer[] = seekTo === undefined ? [Buffer.from(first.value.data)] : [];
  for (let r = await it.next(); !r.done; r = await it.next()) {
    expect(r.value.byte, `${l.song.file}: contiguous`).to.equal(expected);
    expected += r.value.data.length;
    parts.push(Buffer.from(r.value.data));
  }
  expect(await playback.ended).to.deep.equal({ reason: "eos" });
  const got = Buffer.concat(parts);
  const want = seekTo === undefined ? pcm : pcm.subarray(from);
  expect(got.length, `${l.song.file} from ${seekTo ?? 0} s: length`).to.equal(want.length);
  expect(got.equals(want), `${l.song.file} from ${seekTo ?? 0} s: bytes`).to.equal(true);
}

describe("many listeners at one file node (real nats-server, real processes, real WAV files)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let config: ChorusConfig;
  let actor: NatsConnection;
  let listener: NatsConnection;
  const sessions: UserSession[] = [];

  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    // The prime's machine runs at most 3 nodes: one auth node (room for every
    // listener) and two file nodes of `fileCapacity` streams each.
    config = sys.config("prime", {
      maxLoad: 3,
      authCapacity: listeners + 5,
      fileCapacity,
      missedBeats: 10,
    });
    for (const s of songs) {
      writeTone(path.join(config.music, s.file), s.seconds, {
        rate: s.rate,
        channels: s.channels,
        bits: s.bits,
      });
    }
    await sys.startControl("prime", config);
    actor = await sys.connect("actor");
    listener = await sys.connect("listener");
  });
  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(sys.outputs());
  });
  after(async () => {
    for (const s of sessions.splice(0)) s.stopHeartbeats();
    await sys.cleanup();
  });

  it("streams to 30 listeners at once bit-exact, spills the next ones to a second node, then answers NO_ROOM", async () => {
    const pcm = new Map<string, Buffer>();
    for (const s of songs) pcm.set(s.file, await pcmOf(path.join(config.music, s.file)));

    // 30 real logins (the demo users, ten sessions each), a few at a time.
    const users = ["Someone", "AnotherUser", "FinalUser"];
    for (let i = 0; i < listeners; i += 6) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(6, listeners - i) }, (_, j) =>
          sys.login(users[(i + j) % users.length] as string),
        ),
      );
      sessions.push(...batch);
    }
    for (const n of await sys.nodes(actor)) sys.track(n.pid);
    expect(new Set(sessions.map((s) => s.authNode)).size, "one auth node").to.equal(1);

    /** Every listener asks the prime for a node, then plays there; nobody reads yet. */
    const open = (round: number): Promise<Listener[]> =>
      Promise.all(
        sessions.map(async (session, i) => {
          const song = songs[(i + round) % songs.length] as (typeof songs)[number];
          const node = await findFileNode(listener);
          const playback = await play(session.nc, session, song.file, { node });
          const seekTo =
            i % 5 === 2 ? Number((song.seconds * (0.3 + i / 100)).toFixed(2)) : undefined;
          return { session, song, playback, seekTo };
        }),
      );

    // 30 listeners at once: all on one file node, which is then full.
    const first = await open(0);
    const nodeA = first[0]?.playback.node as string;
    expect(new Set(first.map((l) => l.playback.node))).to.deep.equal(new Set([nodeA]));
    const viewA = await waitFor(
      async () => (await sys.nodes(actor)).find((n) => n.id === nodeA && n.load === fileCapacity),
      "the first file node to be full",
    );
    sys.track(viewA.pid);
    // A play there without the prime's claim is refused: the node is full.
    const someone = sessions[0] as UserSession;
    const full = await play(someone.nc, someone, songs[0]?.file as string, {
      node: nodeA,
    }).catch((e: unknown) => e);
    expect(full).to.have.property("code", "NO_ROOM");

    // 30 more: the prime spawns a second file node on its machine for them.
    const second = await open(1);
    const nodeB = second[0]?.playback.node as string;
    expect(nodeB).not.to.equal(nodeA);
    expect(new Set(second.map((l) => l.playback.node))).to.deep.equal(new Set([nodeB]));
    const list = await waitFor(async () => {
      const nodes = await sys.nodes(actor);
      return nodes.find((n) => n.id === nodeB && n.load === fileCapacity) && nodes;
    }, "the second file node to be full");
    const prime = list.find((n) => n.kind === "prime");
    expect(list.find((n) => n.id === nodeB)?.owner).to.equal(prime?.id);
    for (const n of list) sys.track(n.pid);
    expect(prime?.load, "the prime's machine is full").to.equal(3);

    // Everything is full: no node has room and no control node can spawn one.
    const refused = await findFileNode(listener).catch((e: unknown) => e);
    expect(refused).to.have.property("code", "NO_ROOM");
    expect(String((refused as Error).message)).to.match(/no control node has room/);
    const spawnRefused = await call(actor, at(primeSpawn), { kind: "file" }).catch(
      (e: unknown) => e,
    );
    expect(spawnRefused).to.have.property("code", "NO_ROOM");

    // Now all 60 listen at once; each hears its song exactly.
    const all = [...first, ...second];
    expect(all.filter((l) => l.seekTo !== undefined).length).to.be.at.least(10);
    await Promise.all(all.map((l) => hear(l, pcm.get(l.song.file) as Buffer)));

    // The streams are over: the nodes have room again and the prime says so.
    await waitFor(
      async () =>
        (await sys.nodes(actor)).filter((n) => n.kind === "file").every((n) => n.load === 0),
      "the file nodes to be empty",
    );
    const again = await findFileNode(listener);
    expect([nodeA, nodeB]).to.include(again.id);
  });
});
