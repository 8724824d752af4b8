/**
 * JetStream streams and push consumers, set up the same way everywhere (the
 * users stream, each machine's audio stream, the P2P relay stream). Errors
 * are told apart by nats.js's typed errors and the server's API codes, never
 * by their wording.
 *
 * In a NATS cluster a stream gets up to the replicas asked for; a single
 * broker (or a cluster too small) gets fewer, down to one — nats-server
 * refuses replicas it cannot place, and we take that answer rather than
 * guessing the cluster.
 */
import {
  AckPolicy,
  JetStreamApiError,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";

/** The NATS cluster's name (broker/server.ts writes it into each broker's config). */
export const clusterName = "chorus";

/** nats-server's JetStream API error codes we act on (server/errors.json). */
export const jsApiCodes = {
  noSuitablePeers: 10005,
  insufficientResources: 10023,
  streamNotFound: 10059,
  streamNameInUse: 10058,
  replicasNotSupported: 10074,
  wrongLastSequence: 10071,
  wrongLastSequenceUnknown: 10164,
} as const;

export function isJsApiError(err: unknown, ...codes: number[]): boolean {
  return err instanceof JetStreamApiError && codes.includes(err.code);
}

export type StreamSpec = Partial<StreamConfig> & { name: string };

/** Codes that mean "not here, not like that": place the stream anywhere, or with fewer replicas. */
const cannotPlace = [
  jsApiCodes.noSuitablePeers,
  jsApiCodes.insufficientResources,
  jsApiCodes.replicasNotSupported,
];

export interface EnsureOptions {
  /** Create it with up to this many replicas (default 1). */
  replicas?: number;
  /** Bring an existing stream to our limits (default true; placement and storage stay). */
  update?: boolean;
}

/**
 * Make sure `spec`'s stream exists: create it when missing (with up to
 * `replicas`; without its placement when no broker matches it), or bring an
 * existing one to our limits. Another node creating it first is fine.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  spec: StreamSpec,
  options: EnsureOptions = {},
): Promise<void> {
  try {
    await jsm.streams.info(spec.name);
  } catch (err) {
    if (!isJsApiError(err, jsApiCodes.streamNotFound)) throw err;
    await addStream(jsm, spec, options.replicas ?? 1).catch((addErr: unknown) => {
      if (!isJsApiError(addErr, jsApiCodes.streamNameInUse)) throw addErr;
    });
    return;
  }
  if (options.update === false) return;
  // An older node's limits: bring them to ours.
  await jsm.streams.update(spec.name, limitsOf(spec)).catch(() => undefined);
}

async function addStream(jsm: JetStreamManager, spec: StreamSpec, replicas: number): Promise<void> {
  for (let r = replicas; ; r--) {
    try {
      await jsm.streams.add({ ...spec, num_replicas: r });
      return;
    } catch (err) {
      if (!isJsApiError(err, ...cannotPlace)) throw err;
      if (r > 1) continue;
      if (!spec.placement) throw err;
      // No broker has this placement's tag (an untagged cluster): anywhere will do.
      await jsm.streams.add({ ...limitsOf(spec), num_replicas: 1 });
      return;
    }
  }
}

/** A stream's limits without where it lives (placement and replicas are fixed at creation). */
function limitsOf(spec: StreamSpec): StreamSpec {
  const limits = { ...spec };
  delete limits.placement;
  delete limits.num_replicas;
  return limits;
}

/**
 * A push consumer a node makes towards a listener's inbox: no acks (audio
 * that is late is of no use), flow control so a slow listener slows the
 * server rather than being flooded, heartbeats so silence can be told from
 * a gap, and gone on its own once nobody reads it.
 */
export function pushConsumer(
  options: Pick<ConsumerConfig, "name" | "deliver_subject" | "filter_subject"> &
    Partial<ConsumerConfig> & { inactiveMs: number },
): Partial<ConsumerConfig> {
  const { inactiveMs, ...config } = options;
  return {
    ack_policy: AckPolicy.None,
    flow_control: true,
    idle_heartbeat: nanos(1000),
    mem_storage: true,
    inactive_threshold: nanos(inactiveMs),
    ...config,
  };
}
