/** The jitter buffer and the real-time playback clock. */
import { expect } from "chai";
import { JitterBuffer, type JitterOptions } from "../client/audio/jitter.js";
import type { AudioSink } from "../client/audio/output.js";
import { OutputClock } from "../client/audio/output-clock.js";
import type { PcmFormat } from "../client/audio/format.js";
import { waitFor } from "../harness/wait.js";

// 8 kHz mono 16-bit: 16,000 bytes per second, 16 bytes per millisecond.
const fmt: PcmFormat = { sampleRate: 8000, channels: 1, bitDepth: 16 };
const opts: JitterOptions = { bytesPerSecond: 16_000, frameBytes: 2, startMs: 20, rebufferMs: 50 };

function bytes(from: number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (from + i) % 251);
}

/** An in-memory sink that records what reached it and when. */
class Capture implements AudioSink {
  parts: Uint8Array[] = [];
  times: number[] = [];
  closed = 0;
  async write(pcm: Uint8Array): Promise<void> {
    this.parts.push(pcm);
    this.times.push(performance.now());
  }
  async close(): Promise<void> {
    this.closed++;
  }
  get all(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("player jitter buffer", () => {
  it("waits for startMs, then reads in order across chunks", () => {
    const jb = new JitterBuffer(1000, opts);
    jb.push(1000, bytes(1000, 160)); // 10 ms
    expect(jb.ready()).to.equal(false);
    expect(jb.read(100).length).to.equal(0);
    jb.push(1160, bytes(1160, 240)); // 25 ms in all
    expect(jb.ready()).to.equal(true);
    const a = jb.read(301); // rounded down to whole frames
    expect(a.length).to.equal(300);
    expect(Buffer.from(a).equals(Buffer.from(bytes(1000, 300)))).to.equal(true);
    expect(jb.offset).to.equal(1300);
  });

  it("trims duplicates from a redelivery and counts no underrun while data lasts", () => {
    const jb = new JitterBuffer(0, opts);
    jb.push(0, bytes(0, 400));
    jb.push(200, bytes(200, 400)); // overlaps 200 bytes
    jb.push(0, bytes(0, 100)); // old
    expect(jb.duplicateBytes).to.equal(300);
    const all = jb.read(10_000);
    expect(Buffer.from(all).equals(Buffer.from(bytes(0, 600)))).to.equal(true);
  });

  it("counts one underrun per dry spell and refills rebufferMs before playing on", () => {
    const jb = new JitterBuffer(0, opts);
    jb.push(0, bytes(0, 400));
    expect(jb.read(600).length).to.equal(400);
    expect(jb.underruns).to.equal(1);
    expect(jb.state).to.equal("starved");
    expect(jb.read(100).length).to.equal(0);
    expect(jb.underruns).to.equal(1);
    jb.push(400, bytes(400, 400)); // 25 ms < rebufferMs
    expect(jb.read(100).length).to.equal(0);
    jb.push(800, bytes(800, 400)); // 50 ms
    expect(jb.read(100).length).to.equal(100);
    expect(jb.offset).to.equal(500);
  });

  it("counts the underrun when a read drains the buffer exactly and the next finds it empty", () => {
    const jb = new JitterBuffer(0, opts);
    jb.push(0, bytes(0, 400));
    expect(jb.read(400).length).to.equal(400);
    expect(jb.underruns).to.equal(0);
    expect(jb.read(100).length).to.equal(0);
    expect(jb.underruns).to.equal(1);
    expect(jb.state).to.equal("starved");
    expect(jb.read(100).length).to.equal(0);
    expect(jb.underruns).to.equal(1);
    jb.push(400, bytes(400, 400)); // 25 ms < rebufferMs
    expect(jb.read(100).length).to.equal(0);
  });

  it("skips a hole in the offsets, counts it, and keeps the position true", () => {
    const jb = new JitterBuffer(0, opts);
    jb.push(0, bytes(0, 400));
    jb.push(800, bytes(800, 400));
    expect(jb.gaps).to.equal(1);
    expect(jb.read(1000).length).to.equal(400); // stops at the hole
    expect(jb.underruns).to.equal(0);
    expect(jb.offset).to.equal(400);
    const next = jb.read(100);
    expect(Buffer.from(next).equals(Buffer.from(bytes(800, 100)))).to.equal(true);
    expect(jb.offset).to.equal(900);
  });

  it("plays the tail after the end marker even below startMs, then ends", () => {
    const jb = new JitterBuffer(0, opts);
    jb.push(0, bytes(0, 33)); // odd tail
    jb.end();
    expect(jb.read(1000).length).to.equal(33);
    expect(jb.state).to.equal("ended");
    expect(jb.underruns).to.equal(0);
  });

  it("reset (a seek) drops what was buffered and expects the new offset", () => {
    const jb = new JitterBuffer(0, opts);
    jb.push(0, bytes(0, 800));
    jb.reset(16_000);
    expect(jb.bufferedBytes).to.equal(0);
    jb.push(0, bytes(0, 800)); // late chunk of the old position
    expect(jb.bufferedBytes).to.equal(0);
    jb.push(16_000, bytes(16_000, 800));
    expect(Buffer.from(jb.read(800)).equals(Buffer.from(bytes(16_000, 800)))).to.equal(true);
  });
});

describe("player playback clock", () => {
  it("writes every byte in order at real-time pace, then ends", async () => {
    const jb = new JitterBuffer(0, opts);
    const sink = new Capture();
    let ended = 0;
    const pb = new OutputClock(jb, sink, fmt, { ended: () => ended++ });
    const song = bytes(0, 4800); // 300 ms
    const t0 = performance.now();
    pb.start();
    for (let i = 0; i < song.length; i += 480) jb.push(i, song.subarray(i, i + 480));
    jb.end();
    pb.kick();
    // The longest the event loop was held up meanwhile (a busy machine).
    let lag = 0;
    while (!ended) {
      const before = performance.now();
      await sleep(5);
      lag = Math.max(lag, performance.now() - before - 5);
    }
    const took = performance.now() - t0;
    expect(sink.all.equals(Buffer.from(song))).to.equal(true);
    // Never faster than real time (less the lead); slower only by scheduling delays.
    expect(took).to.be.within(300 - 40 - 15, 300 + 250 + lag);
    expect(sink.closed).to.equal(1);
    expect(jb.underruns).to.equal(0);
    expect(pb.state).to.equal("ended");
  });

  it("pause stops the position; resume goes on from it", async () => {
    const jb = new JitterBuffer(0, opts);
    const sink = new Capture();
    const pb = new OutputClock(jb, sink, fmt);
    jb.push(0, bytes(0, 16_000)); // one second
    // Bounds come from the time that really passed: the machine may be busy.
    const lead = 0.04;
    let t = performance.now();
    pb.start();
    await sleep(150);
    pb.pause();
    let spent = (performance.now() - t) / 1000;
    await sleep(20);
    const at = pb.position;
    expect(at).to.be.within(0.05, spent + lead + 0.001);
    await sleep(150);
    expect(pb.position).to.equal(at);
    expect(pb.state).to.equal("paused");
    t = performance.now();
    pb.resume();
    await sleep(100);
    spent = (performance.now() - t) / 1000;
    expect(pb.position).to.be.within(at + 0.05, at + spent + lead + 0.001);
    await pb.stop();
    expect(sink.all.equals(Buffer.from(bytes(0, sink.all.length)))).to.equal(true);
  });

  it("reports the first sample as soon as data arrives, not at the next tick", async () => {
    const jb = new JitterBuffer(0, { ...opts, startMs: 0 });
    const sink = new Capture();
    let first = 0;
    const pb = new OutputClock(
      jb,
      sink,
      fmt,
      { firstSample: () => (first = performance.now()) },
      {
        leadMs: 40,
        tickMs: 1000,
      },
    );
    pb.start();
    await sleep(20);
    const pushed = performance.now();
    jb.push(0, bytes(0, 1600));
    pb.kick();
    while (!first) await sleep(1);
    expect(first - pushed).to.be.below(500); // the next tick would be 1 s away
    await pb.stop();
  });

  it("a network stall counts an underrun and playback carries on without losing bytes", async () => {
    const jb = new JitterBuffer(0, opts);
    const sink = new Capture();
    let ended = false;
    const pb = new OutputClock(jb, sink, fmt, { ended: () => (ended = true) });
    pb.start();
    jb.push(0, bytes(0, 1600)); // 100 ms
    pb.kick();
    // Runs dry once the 100 ms are played.
    await waitFor(() => jb.underruns > 0, "the underrun", 5000, 5);
    expect(jb.underruns).to.equal(1);
    jb.push(1600, bytes(1600, 1600));
    jb.end();
    while (!ended) await sleep(5);
    expect(sink.all.equals(Buffer.from(bytes(0, 3200)))).to.equal(true);
    expect(jb.underruns).to.equal(1);
  });

  it("an output that fails stops playback and says why", async () => {
    const jb = new JitterBuffer(0, opts);
    let failure = "";
    const broken: AudioSink = {
      write: async () => {
        throw new Error("disk full");
      },
      close: async () => undefined,
    };
    const pb = new OutputClock(jb, broken, fmt, { failed: (e) => (failure = e.message) });
    jb.push(0, bytes(0, 1600));
    pb.start();
    while (!failure) await sleep(5);
    expect(failure).to.equal("disk full");
    expect(pb.state).to.equal("failed");
  });
});
