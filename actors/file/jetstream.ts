/**
 * The JetStream side of streaming: one memory stream, CHORUS_AUDIO, shared by
 * every file node, and one push consumer per listener that the node creates
 * towards the listener's inbox.
 *
 * Why these choices (measured; see the README, "Songs and streaming"):
 * - memory storage: file storage was marginal at 600 listeners; the music
 *   folder is the system of record, and after a broker restart the node
 *   re-creates the stream and consumers and publishes again from the
 *   listener's last reported position (which the client knows too).
 * - limits retention, bounded per listener (max_msgs_per_subject: the window,
 *   a short first chunk and the end marker), in total (max_bytes: 6 chunks
 *   of CD audio for ~970 listeners per machine — the broker reserves it, and
 *   its max_memory_store of 4 GB holds 8 machines' streams; past that the oldest chunks
 *   go and listeners resync) and in age (max_age, for streams of a node that
 *   died); a stream's subject is purged when it ends or seeks.
 *   Discard old: a stalled listener loses its oldest chunks (it notices the
 *   gap and asks to sync), never blocks others. Interest retention kept the
 *   stream smaller but, on nats-server 2.9, made delivery with hundreds of
 *   consumers on one stream markedly later (measured: 1,806 vs 59 late
 *   chunks with 200 listeners).
 * - flow control on each push consumer: the server slows down for a slow
 *   client rather than flooding it.
 */
import {
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { clusterName, ensureStream, pushConsumer, type StreamSpec } from "../runtime/streams.js";
import { subjects } from "../../wire/subjects.js";
import { audioStreamName, windowChunks } from "../../wire/file.js";

/**
 * One machine's audio stream. Deliberately local, never replicated: in a
 * NATS cluster it is placed on the broker tagged with this machine's host id,
 * so a machine leaving the network takes only its own listeners' chunks away.
 */
export const audioStreamConfig = (hostId: string): StreamSpec => ({
  name: audioStreamName(hostId),
  subjects: [subjects.audioOfHost(hostId)],
  placement: { cluster: clusterName, tags: [`host:${hostId}`] },
  storage: StorageType.Memory,
  retention: RetentionPolicy.Limits,
  discard: DiscardPolicy.Old,
  // A listener never has more than a window in flight (plus a short first chunk and the
  // end marker); the node purges a stream's subject when it ends or seeks.
  max_msgs_per_subject: windowChunks + 2,
  // The broker's memory store is 1 GB (broker/nats.conf).
  max_bytes: 512 * 1024 * 1024,
  max_msg_size: 1024 * 1024,
  // Chunks of a stream whose node died leave after this.
  max_age: nanos(10 * 60_000),
  duplicate_window: nanos(1000),
  num_replicas: 1,
});

export class AudioJetStream {
  readonly name: string;

  private constructor(
    readonly jsm: JetStreamManager,
    readonly js: JetStreamClient,
    readonly hostId: string,
  ) {
    this.name = audioStreamName(hostId);
  }

  /**
   * Open (creating if need be) this machine's audio stream. A cluster that
   * is still electing its JetStream leaders answers with timeouts for a few
   * seconds: keep trying for `readyWithinMs` (inside the spawn timeout)
   * rather than fail the node's start.
   */
  static async open(
    nc: NatsConnection,
    hostId: string,
    readyWithinMs = 8000,
  ): Promise<AudioJetStream> {
    const deadline = Date.now() + readyWithinMs;
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc);
        const audio = new AudioJetStream(jsm, jetstream(nc), hostId);
        await audio.ensureStream();
        return audio;
      } catch (err) {
        if (Date.now() >= deadline || nc.isClosed()) throw err;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /** The subject of one listener stream's chunks. */
  subject(streamId: string): string {
    return subjects.audio(this.hostId, streamId);
  }

  /** Create the stream on this machine's broker (anywhere when none has its tag), or update it. */
  ensureStream(): Promise<void> {
    return ensureStream(this.jsm, audioStreamConfig(this.hostId));
  }

  /** A named push consumer per listener stream (creating it twice is harmless). */
  async openConsumer(streamId: string, deliver: string): Promise<void> {
    await this.jsm.consumers.add(
      this.name,
      pushConsumer({
        name: streamId,
        deliver_subject: deliver,
        filter_subject: this.subject(streamId),
        deliver_policy: DeliverPolicy.All,
        inactiveMs: 10_000,
      }),
    );
  }

  async closeConsumer(streamId: string): Promise<void> {
    await this.jsm.consumers.delete(this.name, streamId).catch(() => undefined);
  }

  /** Drop chunks of this stream not yet pushed (after a seek). */
  async purge(streamId: string): Promise<void> {
    await this.jsm.streams.purge(this.name, { filter: this.subject(streamId) });
  }
}
