/**
 * Keeping every machine's users in step. SQLite is the system of record; the
 * CHORUS_USERS stream carries user versions between machines:
 *
 * - `chorus user add` writes the user to its machine's file, then publishes it.
 * - Every auth node follows the stream (an ordered consumer from the start)
 *   and applies each version to its machine's file (idempotent upsert; the
 *   newest version wins), so a new user can log in anywhere within moments.
 * - After catching up, a node republishes every local user the stream lacks
 *   or holds an older version of: the stream is rebuilt from the files if the
 *   broker lost it (nats-server 2.9 may lose acknowledged writes).
 */
import {
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../runtime/log.js";
import { ensureStream } from "../runtime/streams.js";
import { subjects } from "../../wire/subjects.js";
import {
  decodeEvent,
  encodeItemEvent,
  encodeUserEvent,
  eventId,
  itemEventId,
  usersStream,
} from "./events.js";
import type { ItemRow, UserRow } from "./schema.js";
import type { EventKey } from "../../wire/seal.js";
import { newer, type UserStore } from "./users.js";

/** Create the stream when it does not exist (idempotent: same config). */
export async function ensureUsersStream(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  // Replicated over three brokers of a cluster: auth nodes on every machine
  // read it, and it must outlive any one machine leaving.
  await ensureStream(
    jsm,
    {
      name: usersStream,
      subjects: [subjects.userEvents],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_msgs: 1_000_000,
      max_bytes: 1024 ** 3,
    },
    // Its limits never changed: no update (a replicated stream's update is a cluster proposal).
    { replicas: 3, update: false },
  );
}

/** Publish one user version; resolves once the broker stored it. */
export async function publishUser(nc: NatsConnection, key: EventKey, row: UserRow): Promise<void> {
  await jetstream(nc).publish(subjects.userEvents, encodeUserEvent(key, row), {
    msgID: eventId(row),
    timeout: 3000,
  });
}

/** Publish one item version (a star, a playlist, a play count); resolves once stored. */
export async function publishItem(nc: NatsConnection, key: EventKey, row: ItemRow): Promise<void> {
  await jetstream(nc).publish(subjects.userEvents, encodeItemEvent(key, row), {
    msgID: itemEventId(row),
    timeout: 3000,
  });
}

const itemKey = (row: ItemRow): string => `${row.userKey}\u0000${row.kind}\u0000${row.item}`;

export class UserSync {
  /** The newest version of each user seen in the stream. */
  private readonly seen = new Map<string, UserRow>();
  /** The newest version of each item seen in the stream. */
  private readonly seenItems = new Map<string, number>();
  private messages?: ConsumerMessages;
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly store: UserStore,
    private readonly key: EventKey,
    private readonly log: Logger,
  ) {}

  /**
   * Follow the stream; resolves once every event that was in it at the start
   * has been applied (or after `catchUpMs`, when it keeps following anyway).
   */
  async start(catchUpMs = 5000): Promise<void> {
    await ensureUsersStream(this.nc);
    const jsm = await jetstreamManager(this.nc);
    const lastSeq = (await jsm.streams.info(usersStream)).state.last_seq;
    const consumer = await jetstream(this.nc).consumers.get(usersStream);
    this.messages = await consumer.consume();
    let caughtUp!: () => void;
    const done = new Promise<void>((resolve) => (caughtUp = resolve));
    if (lastSeq === 0) caughtUp();
    void (async () => {
      for await (const msg of this.messages!) {
        try {
          await this.apply(msg.data);
        } catch (err) {
          this.log.warn("cannot apply user event", { seq: msg.seq, error: String(err) });
        }
        if (msg.seq >= lastSeq) caughtUp();
      }
    })().catch((err: unknown) => {
      if (!this.stopped) this.log.warn("user events stopped", { error: String(err) });
    });
    const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), catchUpMs));
    const complete = await Promise.race([done.then(() => true), timer]);
    if (!complete) this.log.warn("user events not caught up in time; following on", { lastSeq });
    else await this.republish();
  }

  private async apply(data: Uint8Array): Promise<void> {
    const event = decodeEvent(this.key, data);
    if (!event) {
      this.log.warn("ignored a user event that does not open (other key or malformed)");
      return;
    }
    if ("item" in event) {
      const { item } = event;
      const k = itemKey(item);
      this.seenItems.set(k, Math.max(this.seenItems.get(k) ?? 0, item.updatedAt));
      await this.store.upsertItem(item);
      return;
    }
    const row = event.user;
    const known = this.seen.get(row.key);
    if (!known || newer(row, known)) this.seen.set(row.key, row);
    if (await this.store.upsert(row)) this.log.debug("user updated", { origin: row.origin });
  }

  /** Publish every local user the stream lacks or holds an older version of. */
  private async republish(): Promise<void> {
    let count = 0;
    for (const row of await this.store.all()) {
      const inStream = this.seen.get(row.key);
      if (inStream && !newer(row, inStream)) continue;
      try {
        await publishUser(this.nc, this.key, row);
        count++;
      } catch (err) {
        this.log.warn("cannot republish a user", { error: String(err) });
        return;
      }
    }
    if (count) this.log.info("republished users missing from the stream", { count });
    let items = 0;
    for (const item of await this.store.allItems()) {
      if ((this.seenItems.get(itemKey(item)) ?? -1) >= item.updatedAt) continue;
      try {
        await publishItem(this.nc, this.key, item);
        items++;
      } catch (err) {
        this.log.warn("cannot republish an item", { error: String(err) });
        return;
      }
    }
    if (items) this.log.info("republished items missing from the stream", { count: items });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
  }
}
