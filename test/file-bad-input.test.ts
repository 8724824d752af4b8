import { at } from "../wire/contract.js";
import { fileControl, filePlay } from "../wire/file.js";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { expect } from "chai";
import { symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { call, request } from "../actors/runtime/endpoint.js";
import { ChorusError } from "../wire/errors.js";
import { audioStreamName } from "../wire/file.js";
import type { ClientSession } from "../client/stream.js";
import type { UserSession } from "../client/auth.js";
import { findFileNode, listSongs, play, type ChunkReader } from "../client/stream.js";
import { copyDemoMusic, craftWav, writeTone } from "../harness/fixtures/file.js";
import { TestSystem, type ChorusProcess } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";

async function failure(p: Promise<unknown>): Promise<ChorusError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "expected the request to fail").to.be.instanceOf(ChorusError);
  return err as ChorusError;
}

/** Files that are not playable WAVs, and why. */
const broken: Record<string, Buffer> = {
  "lying-size.wav": craftWav({ claimedData: 10_000_000, actualData: 1600 }),
  "zero-channels.wav": craftWav({ channels: 0, blockAlign: 2 }),
  "zero-rate.wav": craftWav({ rate: 0 }),
  "twelve-bit.wav": craftWav({ bits: 12, blockAlign: 2 }),
  "adpcm.wav": craftWav({ format: 2 }),
  "mulaw.wav": craftWav({ format: 7, bits: 8 }),
  "float.wav": craftWav({ format: 3, bits: 32 }),
  "bad-align.wav": craftWav({ channels: 2, blockAlign: 3 }),
  "truncated.wav": craftWav().subarray(0, 30),
  "not-a-wav.wav": Buffer.from("this is a text file, not audio\n"),
  "empty.wav": Buffer.alloc(0),
};

describe("file nodes: bad input (real nats-server, real files)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let config: ChorusConfig;
  let prime: ChorusProcess;
  let listener: NatsConnection;
  let nodeId: string;
  let user: UserSession;
  let session: ClientSession;

  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    config = sys.config("prime", { maxLoad: 4 });
    copyDemoMusic(config.music);
    for (const [name, bytes] of Object.entries(broken)) {
      writeFileSync(path.join(config.music, name), bytes);
    }
    // A real song just outside the music folder, and a link to it from inside.
    writeTone(path.join(config.music, "..", "outside.wav"), 1);
    symlinkSync(path.join(config.music, "..", "outside.wav"), path.join(config.music, "link.wav"));
    prime = (await sys.startControl("prime", config)).proc;
    const actor = await sys.connect("actor");
    user = await sys.login();
    listener = user.nc;
    session = { authNode: user.authNode, ...user.credentials(), newInbox: () => user.newInbox() };
    nodeId = (await findFileNode(listener)).id;
    for (const n of await sys.nodes(actor)) sys.track(n.pid);
  });
  after(async () => {
    user.stopHeartbeats();
    await sys.cleanup();
  });

  const playErr = (song: string, extra: Record<string, unknown> = {}): Promise<ChorusError> =>
    failure(
      call(listener, at(filePlay, nodeId), {
        session,
        song,
        deliver: user.newInbox(),
        ...extra,
      }),
    );

  it("leaves invalid WAVs out of the listing with one warning each, and says why on play", async () => {
    const files = (await listSongs(listener, session, nodeId)).map((s) => s.file);
    for (const name of Object.keys(broken)) expect(files, name).not.to.include(name);
    expect(files).not.to.include("link.wav");
    expect(files).to.include("chorus-theme.wav");
    // A second listing warns no more.
    await listSongs(listener, session, nodeId);
    for (const name of Object.keys(broken)) {
      const warnings = prime
        .output()
        .split("\n")
        .filter((l) => l.includes("not a playable WAV"));
      expect(
        warnings.filter((l) => l.includes(`file=${name}`)),
        name,
      ).to.have.length(1);
    }
    const reasons: Record<string, RegExp> = {
      "lying-size.wav": /claims 10000000 bytes/,
      "zero-channels.wav": /zero channels/,
      "zero-rate.wav": /zero sample rate/,
      "twelve-bit.wav": /12-bit/,
      "adpcm.wav": /ADPCM/,
      "mulaw.wav": /mu-law/,
      "float.wav": /float/,
      "bad-align.wav": /block align/,
      "truncated.wav": /no data chunk|runs past/,
      "not-a-wav.wav": /not a RIFF/,
      "empty.wav": /too short/,
    };
    for (const [name, reason] of Object.entries(reasons)) {
      const err = await playErr(name);
      expect(err.code, name).to.equal("BAD_REQUEST");
      expect(err.message, name).to.match(reason);
    }
  });

  it("refuses unknown songs and names that leave the music folder, reading nothing outside", async () => {
    expect((await playErr("no-such-song.wav")).code).to.equal("NOT_FOUND");
    for (const name of [
      "../outside.wav",
      "..",
      ".",
      "sub/dir.wav",
      "/etc/passwd",
      path.join(config.music, "chorus-theme.wav"),
      "chorus-theme.wav\0.txt",
      "..\\outside.wav",
    ]) {
      expect((await playErr(name)).code, JSON.stringify(name)).to.equal("BAD_REQUEST");
    }
    // The symlink out of the folder is not a song.
    expect((await playErr("link.wav")).code).to.equal("NOT_FOUND");
  });

  it("refuses positions before 0 or past the end, for play and seek", async () => {
    const theme = (await listSongs(listener, session, nodeId)).find(
      (s) => s.file === "chorus-theme.wav",
    );
    expect((await playErr("chorus-theme.wav", { from: -1 })).code).to.equal("BAD_REQUEST");
    const past = await playErr("chorus-theme.wav", { from: (theme?.duration ?? 0) + 1 });
    expect(past.code).to.equal("BAD_REQUEST");
    expect(past.message).to.match(/past the end/);
    let received = 0;
    const playback = await play(listener, session, "chorus-theme.wav", {
      node: nodeId,
      onChunk: () => received++,
    });
    // Refused seeks while chunks wait in the queue must lose none of them.
    await waitFor(() => received >= 2, "the first chunks to arrive");
    for (const at of [-0.5, 1e6, theme?.duration ?? 0]) {
      const err = await failure(playback.seek(at));
      expect(err.code, String(at)).to.equal("BAD_REQUEST");
    }
    // The stream is unharmed: it still plays to the end.
    let bytes = 0;
    for await (const chunk of playback) bytes += chunk.data.length;
    expect(bytes).to.equal(theme?.bytes);
  });

  it("refuses no session, a forged session, and control of someone else's stream", async () => {
    expect((await playErr("chorus-theme.wav", { session: undefined })).code).to.equal(
      "BAD_REQUEST",
    );
    const forged = { ...session, token: "not-the-token" };
    const err = await failure(play(listener, forged, "chorus-theme.wav", { node: nodeId }));
    expect(err.code).to.equal("UNAUTHORIZED");
    const unknownNode = { ...session, authNode: "auth-nobody" };
    expect((await failure(listSongs(listener, unknownNode, nodeId))).code).to.equal("UNAUTHORIZED");

    const mine: ChunkReader = await play(listener, session, "chorus-theme.wav", {
      node: nodeId,
      manualPosition: true,
    });
    const other = await sys.login("AnotherUser");
    try {
      const theirs = { authNode: other.authNode, ...other.credentials() };
      for (const op of ["pause", "stop"] as const) {
        const e = await failure(
          call(listener, at(fileControl, nodeId), {
            op,
            session: theirs,
            streamId: mine.streamId,
          }),
        );
        expect(e.code, op).to.equal("FORBIDDEN");
      }
      const missing = await failure(
        call(listener, at(fileControl, nodeId), {
          op: "pause",
          session: theirs,
          streamId: "no-such-stream",
        }),
      );
      expect(missing.code).to.equal("NOT_FOUND");
      expect(mine.state).to.equal("playing");
    } finally {
      other.stopHeartbeats();
      await mine.stop();
    }
  });

  it("refuses malformed requests: bad JSON, a deliver subject outside _INBOX, unknown ops", async () => {
    const raw = await listener.request(at(filePlay, nodeId).subject, new TextEncoder().encode("{"));
    expect(raw.json<{ error: { code: string } }>().error.code).to.equal("BAD_JSON");
    for (const deliver of ["chorus.prime.assign", "_INBOX.>", "_INBOX.a b", ""]) {
      expect((await playErr("chorus-theme.wav", { deliver })).code, deliver).to.equal(
        "BAD_REQUEST",
      );
    }
    const op = await failure(
      request(listener, at(fileControl, nodeId).subject, { op: "explode", session, streamId: "x" }),
    );
    expect(op.code).to.equal("BAD_REQUEST");
  });

  it("denies a listener opening its own consumer on the audio stream (others' audio)", async () => {
    const ljsm = await jetstreamManager(listener);
    const actor = await sys.connect("actor");
    const host = (await sys.nodes(actor)).find((n) => n.id === nodeId)?.host as string;
    const stream = audioStreamName(host);
    expect((await (await jetstreamManager(actor)).streams.info(stream)).config.name).to.equal(
      stream,
    );
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ["consumer", () => ljsm.consumers.add(stream, { filter_subject: `chorus.audio.${host}.x` })],
      ["stream info", () => ljsm.streams.info(stream)],
      ["purge", () => ljsm.streams.purge(stream)],
      ["delete", () => ljsm.streams.delete(stream)],
    ];
    for (const [what, attempt] of attempts) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err, what)
        .to.be.instanceOf(Error)
        .with.property("message")
        .that.match(/Permissions Violation/);
    }
  });

  it("keeps serving everyone after all of that", async () => {
    const playback = await play(listener, session, "mono-lullaby.wav", { node: nodeId });
    let bytes = 0;
    for await (const chunk of playback) bytes += chunk.data.length;
    expect(bytes).to.equal(352_800);
    await waitFor(async () => (await listSongs(listener, session, nodeId)).length === 4, "listing");
  });
});
