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
  type MsgRequest,
  type NextMsgRequest,
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

/**
 * Where a consumer on `subject` starts to get what was stored at `since` or
 * later: the first stream sequence whose next `subject` message is that
 * recent, found with a few next-message requests (gap-safe). Never the
 * consumer's `opt_start_time`: nats-server 2.9's memory store turns a time
 * into a sequence with a binary search that reads deleted sequences, and
 * the whole server panics (nil dereference in memStore.GetSeqFromTime, fixed
 * in 2.10.7, nats-server#4853). A stream of several subjects has deleted
 * sequences inside it once a per-subject limit drops one subject's oldest
 * messages behind another's: the P2P relay does every few seconds.
 *
 * `last` is the sequence of a `subject` message stored at `since` or later.
 */
export async function startSeqSince(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  last: number,
  since: number,
): Promise<number> {
  return firstSeqWhere(last, async (seq) => {
    const next: NextMsgRequest = { seq, next_by_subj: subject };
    // STREAM.MSG.GET takes next_by_subj (nats-server 2.9+); nats.js types it for direct gets only.
    const msg = await jsm.streams.getMessage(stream, next as unknown as MsgRequest);
    return !msg || msg.time.getTime() >= since;
  });
}

/**
 * The least sequence from 1 to `last` for which `holds` is true, given that
 * it is for `last` and, from the first one on, for every later one: steps
 * back 1, 2, 4… from `last` until it fails, then halves what is left.
 */
export async function firstSeqWhere(
  last: number,
  holds: (seq: number) => Promise<boolean>,
): Promise<number> {
  // holds(hi) is true; holds(lo) is false, or lo is 0 (nothing before hi).
  let hi = last;
  let lo = 0;
  for (let step = 1; hi > 1; step *= 2) {
    const seq = Math.max(1, last - step);
    if (!(await holds(seq))) {
      lo = seq;
      break;
    }
    hi = seq;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await holds(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
