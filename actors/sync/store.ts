/**
 * The JetStream object store bucket transfers travel through. It holds only
 * files in flight: the prime removes each object once its transfer ends and
 * purges leftovers after every round, the bucket is capped in bytes, and a
 * bucket-wide max age (which nats-server 2.9 honours) clears anything a
 * crashed prime left behind.
 */
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { Objm, setSha256Backend, StorageType, type ObjectStore } from "@nats-io/obj";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { randomBytes } from "node:crypto";

// The library's default pure-JS SHA-256 caps a put at ~30 MB/s; Node's is ~5x faster.
setSha256Backend("native");

export const syncBucket = "chorus-sync";
export const syncStream = `OBJ_${syncBucket}`;
/** A WAV file is at most 4 GiB; one transfer runs at a time. */
export const bucketMaxBytes = 5 * 2 ** 30;
export const objectMaxAgeMs = 60 * 60 * 1000;
/** Object chunk size: well under the broker's 1 MB max_payload. */
export const chunkBytes = 512 * 1024;

export interface SyncStore {
  os: ObjectStore;
  js: JetStreamClient;
  /** The subject an object's chunks live on. */
  chunkSubject(nuid: string): string;
  /** Remove every object (used between rounds, when nothing is in flight). */
  purge(): Promise<void>;
}

export async function openSyncStore(nc: NatsConnection): Promise<SyncStore> {
  const js = jetstream(nc);
  const os = await new Objm(js).create(syncBucket, {
    description: "Chorus music sync: files in flight between control nodes",
    storage: StorageType.File,
    replicas: 1,
    max_bytes: bucketMaxBytes,
    ttl: nanos(objectMaxAgeMs),
  });
  return {
    os,
    js,
    chunkSubject: (nuid) => `$O.${syncBucket}.C.${nuid}`,
    purge: async () => {
      const jsm = await js.jetstreamManager();
      await jsm.streams.purge(syncStream);
    },
  };
}

/** Object names are transfer ids: file names never reach a subject. */
export function newObjectName(): string {
  return `t-${randomBytes(9).toString("base64url")}`;
}

/** The hex SHA-256 of an object store digest (`SHA-256=<base64url>`). */
export function digestHex(digest: string): string | undefined {
  const prefix = "SHA-256=";
  if (!digest.startsWith(prefix)) return undefined;
  const bytes = Buffer.from(digest.slice(prefix.length), "base64url");
  return bytes.length === 32 ? bytes.toString("hex") : undefined;
}
