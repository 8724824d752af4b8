/**
 * Creating JetStream streams the same way everywhere. In a NATS cluster a
 * stream gets up to the replicas asked for; a single broker (or a cluster
 * too small) gets fewer, down to one — nats-server refuses replicas it
 * cannot place, and we take that answer rather than guessing the cluster.
 */
import type { JetStreamManager, StreamConfig, StreamInfo } from "@nats-io/jetstream";

/** The NATS cluster's name (broker/server.ts writes it into each broker's config). */
export const clusterName = "chorus";

const cannotReplicate = /replicas > 1 not supported|insufficient resources|no suitable peers/i;

export async function addStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
  replicas = 1,
): Promise<StreamInfo> {
  for (let r = replicas; ; r--) {
    try {
      return await jsm.streams.add({ ...config, num_replicas: r });
    } catch (err) {
      if (r <= 1 || !cannotReplicate.test(String(err))) throw err;
    }
  }
}
