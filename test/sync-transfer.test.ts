import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { mkdir, open, writeFile } from "node:fs/promises";
import path from "node:path";
import { ChorusError } from "../wire/errors.js";
import { hashFile } from "../actors/sync/manifest.js";
import { newObjectName, openSyncStore, type SyncStore } from "../actors/sync/store.js";
import { receiveFile, sendFile, type ReceiveOptions } from "../actors/sync/transfer.js";
import { TestSystem } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";
import { listDir, sha256Of, wavHeader, writeWav } from "../harness/fixtures/sync.js";

/** Transfers in this process against a real nats-server 2.9 and real files. */
describe("music sync transfers (real nats-server, real files)", function () {
  this.timeout(30_000);
  let sys: TestSystem;
  let nc: NatsConnection;
  let store: SyncStore;
  let from: string;
  let to: string;

  beforeEach(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    nc = await sys.connect("actor");
    store = await openSyncStore(nc);
    from = path.join(sys.root, "from");
    to = path.join(sys.root, "to");
    await mkdir(from, { recursive: true });
    await mkdir(to, { recursive: true });
  });
  afterEach(async () => sys.cleanup());

  const objectsLeft = async (): Promise<number> => {
    const jsm = await store.js.jetstreamManager();
    const info = await jsm.streams.info("OBJ_chorus-sync");
    return info.state.messages;
  };
  const receive = (
    o: Partial<ReceiveOptions> & Pick<ReceiveOptions, "object" | "name" | "hash" | "size">,
  ) => receiveFile(store, to, { ifExists: "aside", loserHost: "host-to", ...o });

  it("the bucket works on this nats-server: limits set, objects removed leave it empty", async () => {
    const status = await store.os.status();
    expect(status.streamInfo.config.max_bytes).to.equal(5 * 2 ** 30);
    expect(status.streamInfo.config.max_age).to.be.greaterThan(0);
    const hash = await writeWav(path.join(from, "a.wav"), 3_000_000);
    const object = newObjectName();
    await sendFile(store, from, { name: "a.wav", size: 3_000_000, hash }, object);
    const got = await receive({ object, name: "a.wav", hash, size: 3_000_000 });
    expect(got).to.deep.equal({ stored: "a.wav", already: false });
    expect(await sha256Of(path.join(to, "a.wav"))).to.equal(hash);
    await store.os.delete(object);
    await store.purge();
    expect(await objectsLeft()).to.equal(0);
  });

  it("rejects an object whose content does not match the announced hash; nothing lands", async () => {
    const hash = await writeWav(path.join(from, "a.wav"), 200_000);
    const object = newObjectName();
    await sendFile(store, from, { name: "a.wav", size: 200_000, hash }, object);
    const err = await receive({ object, name: "b.wav", hash: "0".repeat(64), size: 200_000 }).catch(
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ChorusError).with.property("code", "BAD_REQUEST");
    expect(await listDir(to)).to.deep.equal([]);
  });

  it("rejects content that is not a WAV file even when its hash matches", async () => {
    const data = Buffer.alloc(5000, 1);
    const object = newObjectName();
    await store.os.putBlob({ name: object }, data);
    await writeFile(path.join(from, "x"), data);
    const hash = await hashFile(path.join(from, "x"));
    const err = await receive({ object, name: "x.wav", hash, size: 5000 }).catch((e: unknown) => e);
    expect(err).to.have.property("code", "BAD_REQUEST");
    expect(String((err as Error).message)).to.match(/not a complete WAV/);
    expect(await listDir(to)).to.deep.equal([]);
  });

  it("refuses a file that changes while it is being sent, and leaves no object", async () => {
    const size = 60_000_000;
    const file = path.join(from, "big.wav");
    const hash = await writeWav(file, size);
    const object = newObjectName();
    const sending = sendFile(store, from, { name: "big.wav", size, hash }, object).catch(
      (e: unknown) => e,
    );
    // Overwrite some bytes in the middle while the put is under way (same size, new content).
    await waitFor(async () => (await objectsLeft()) > 0, "the put to be under way", 10_000, 5);
    const fh = await open(file, "r+");
    await fh.write(Buffer.alloc(4096, 9), 0, 4096, size / 2);
    await fh.close();
    const err = await sending;
    expect(err).to.be.instanceOf(ChorusError).with.property("code", "UNAVAILABLE");
    expect(await store.os.get(object), "object removed").to.equal(null);
  });

  it("on a name conflict: 'aside' keeps the local copy under a conflict name, 'keep' stores the newcomer there", async () => {
    const theirs = await writeWav(path.join(from, "song.wav"), 100_000);
    const ours = await writeWav(path.join(to, "song.wav"), 120_000);
    const send = async (): Promise<string> => {
      const object = newObjectName();
      await sendFile(store, from, { name: "song.wav", size: 100_000, hash: theirs }, object);
      return object;
    };
    const kept = await receive({
      object: await send(),
      name: "song.wav",
      hash: theirs,
      size: 100_000,
      ifExists: "keep",
      loserHost: "host-from",
    });
    expect(kept.stored).to.equal("song (conflict host-from).wav");
    expect(await sha256Of(path.join(to, "song.wav"))).to.equal(ours);
    expect(await sha256Of(path.join(to, kept.stored))).to.equal(theirs);

    const aside = await receive({
      object: await send(),
      name: "song.wav",
      hash: theirs,
      size: 100_000,
    });
    expect(aside).to.deep.include({
      stored: "song.wav",
      movedAside: "song (conflict host-to).wav",
    });
    expect(await sha256Of(path.join(to, "song.wav"))).to.equal(theirs);
    expect(await sha256Of(path.join(to, "song (conflict host-to).wav"))).to.equal(ours);
    // The same content again is a no-op.
    const again = await receive({
      object: await send(),
      name: "song.wav",
      hash: theirs,
      size: 100_000,
    });
    expect(again.already).to.equal(true);
    expect(await listDir(to)).to.deep.equal([
      "song (conflict host-from).wav",
      "song (conflict host-to).wav",
      "song.wav",
    ]);
  });

  it("refuses a file larger than the receiver's free space", async () => {
    const object = newObjectName();
    await store.os.putBlob({ name: object }, wavHeader(0));
    const err = await receive({
      object,
      name: "huge.wav",
      hash: "a".repeat(64),
      size: 2 ** 50,
    }).catch((e: unknown) => e);
    expect(err).to.have.property("code", "NO_ROOM");
    expect(await listDir(to)).to.deep.equal([]);
  });
});
