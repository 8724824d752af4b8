import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { expect } from "chai";
import { firstSeqWhere, startSeqSince } from "../actors/runtime/streams.js";
import { TestSystem } from "../harness/system.js";

describe("JetStream start sequences (real nats-server)", function () {
  this.timeout(30_000);
  let sys: TestSystem;
  let jsm: JetStreamManager;
  let js: JetStreamClient;

  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    const nc = await sys.connect("actor");
    jsm = await jetstreamManager(nc);
    js = jetstream(nc);
  });
  after(async () => sys?.cleanup());

  it("finds the first sequence from which a condition holds, in a few probes", async () => {
    for (const last of [1, 2, 3, 10, 1000]) {
      for (let first = 1; first <= last; first += Math.max(1, Math.floor(last / 7))) {
        const asked: number[] = [];
        const seq = await firstSeqWhere(last, async (s) => {
          asked.push(s);
          return s >= first;
        });
        expect(seq, `${first} of 1..${last}`).to.equal(first);
        expect(asked.every((s) => s >= 1 && s <= last)).to.equal(true);
        expect(asked.length).to.be.at.most(2 * Math.ceil(Math.log2(last - first + 2)) + 1);
      }
    }
  });

  it("starts a consumer at a time on a memory stream with deleted messages inside it; the broker lives", async () => {
    // The P2P relay's shape: one subject's per-subject limit drops its oldest messages
    // behind another subject's older one, so the stream has deleted sequences inside it
    // (nats-server 2.9 panics when a consumer's start time is looked up in such a stream).
    await jsm.streams.add({
      name: "GAPS",
      subjects: ["gaps.*"],
      storage: StorageType.Memory,
      discard: DiscardPolicy.Old,
      max_msgs_per_subject: 3,
    });
    // Stored times are compared in milliseconds: one publish per millisecond.
    const nextMillisecond = async (): Promise<void> => {
      const now = Date.now();
      while (Date.now() === now) await new Promise((resolve) => setImmediate(resolve));
    };
    await js.publish("gaps.old", "old");
    for (let i = 0; i < 8; i++) {
      await nextMillisecond();
      await js.publish("gaps.new", String(i));
    }
    const state = (await jsm.streams.info("GAPS")).state;
    expect(state, "deleted sequences inside the stream").to.deep.include({
      first_seq: 1,
      last_seq: 9,
      messages: 4,
      num_deleted: 5,
    });
    const timeOf = async (seq: number): Promise<number> =>
      (await jsm.streams.getMessage("GAPS", { seq }))!.time.getTime();

    /** The sequences of gaps.new a consumer starting at `since` gets. */
    const from = async (since: number, name: string): Promise<number[]> => {
      const start = await startSeqSince(jsm, "GAPS", "gaps.new", 9, since);
      await jsm.consumers.add("GAPS", {
        durable_name: name,
        ack_policy: AckPolicy.None,
        filter_subject: "gaps.new",
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: start,
      });
      const consumer = await js.consumers.get("GAPS", name);
      const seqs: number[] = [];
      for await (const m of await consumer.fetch({ max_messages: 10, expires: 1000 })) {
        seqs.push(m.seq);
        if (m.info.pending === 0) break;
      }
      return seqs;
    };
    expect(await from(await timeOf(8), "newest-two")).to.deep.equal([8, 9]);
    expect(await from(await timeOf(7), "all-kept")).to.deep.equal([7, 8, 9]);
    expect(await from(await timeOf(1), "older-than-all")).to.deep.equal([7, 8, 9]);
    expect(sys.broker?.process.exitCode, "the broker still runs").to.equal(null);
    expect((await jsm.streams.info("GAPS")).state.messages).to.equal(4);
  });
});
