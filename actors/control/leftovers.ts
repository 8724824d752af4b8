/**
 * No leftovers on the broker: each machine's audio stream reserves its
 * max_bytes of the broker's memory store (actors/file/jetstream.ts), so a
 * machine that is gone for good must give it back. A control node that
 * stops deletes its machine's stream once its nodes have stopped; the prime
 * deletes the streams of machines it has not seen a node of, nor a chunk
 * from, for `leftoverBeats` (a control node killed with its data folder
 * thrown away). A machine that comes back creates its stream again.
 */
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { audioStreamName } from "../../wire/file.js";
import type { Registry } from "../prime/registry.js";
import type { Actor } from "../runtime/actor.js";
import { isJsApiError, jsApiCodes } from "../runtime/streams.js";
import { sweepEvery } from "../runtime/sweep.js";

/** Beats without a node on a machine, and without a chunk in its stream, before it is released. */
export const leftoverBeats = 30;

const audioPrefix = audioStreamName("");

/** Delete `host`'s audio stream (gone already is fine). */
export async function releaseAudioStream(nc: NatsConnection, host: string): Promise<boolean> {
  const jsm = await jetstreamManager(nc, { timeout: 1000 });
  try {
    return await jsm.streams.delete(audioStreamName(host));
  } catch (err) {
    if (isJsApiError(err, jsApiCodes.streamNotFound)) return false;
    throw err;
  }
}

/** The prime's sweep for streams of machines that are gone; returns its stop. */
export function sweepLeftovers(actor: Actor, registry: Registry): () => void {
  const afterMs = leftoverBeats * actor.config.heartbeatMs;
  /** Since when each stream's machine has had no node in the registry. */
  const unseen = new Map<string, number>();
  let running = false;
  const sweep = async (jsm: JetStreamManager): Promise<void> => {
    const now = Date.now();
    const hosts = new Set(registry.all().map((n) => n.host));
    for await (const info of jsm.streams.list()) {
      const name = info.config.name;
      if (!name.startsWith(audioPrefix)) continue;
      const host = name.slice(audioPrefix.length);
      if (hosts.has(host)) {
        unseen.delete(name);
        continue;
      }
      const since = unseen.get(name) ?? now;
      unseen.set(name, since);
      const lastChunk = Date.parse(info.state.last_ts) || 0;
      if (now - since < afterMs || now - lastChunk < afterMs) continue;
      await jsm.streams.delete(name);
      unseen.delete(name);
      actor.log.info("released the audio stream of a machine that is gone", { host });
    }
  };
  return sweepEvery(Math.max(100, 5 * actor.config.heartbeatMs), () => {
    if (running) return;
    running = true;
    jetstreamManager(actor.nc, { timeout: 2000 })
      .then(sweep)
      .catch((err: unknown) => actor.log.debug("leftover sweep failed", { error: String(err) }))
      .finally(() => (running = false));
  });
}
