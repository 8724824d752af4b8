/**
 * User events on the JetStream stream CHORUS_USERS (subject
 * `chorus.users.events`): one event per user version, sealed with the
 * actors' event key (see seal.ts). Every auth node applies them to its
 * machine's SQLite file; the newest version of a user wins (users.ts newer()).
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { EventKey } from "../../wire/seal.js";
import type { ItemRow, UserRow } from "./schema.js";

export const usersStream = "CHORUS_USERS";

const wireSchema = z.object({ v: z.literal(1), iv: z.string(), data: z.string() });

const userEventSchema = z.object({
  type: z.literal("user.upsert"),
  key: z.string().min(1).max(512),
  name: z.string().min(1).max(512),
  hash: z.string().startsWith("$argon2"),
  updatedAt: z.number().int().min(0),
  origin: z.string().max(128),
  /** API keys and the sealed app password (secrets.ts). */
  secrets: z
    .string()
    .max(64 * 1024)
    .optional(),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeUserEvent(key: EventKey, row: UserRow): Uint8Array {
  const event = { type: "user.upsert", ...row };
  return encoder.encode(JSON.stringify({ v: 1, ...key.seal(JSON.stringify(event)) }));
}

/** A user's item (wire/user-data.ts): one event per item version, on the same stream. */
const itemEventSchema = z.object({
  type: z.literal("item.upsert"),
  userKey: z.string().min(1).max(512),
  kind: z.string().min(1).max(32),
  item: z.string().min(1).max(255),
  value: z
    .string()
    .max(256 * 1024)
    .nullable(),
  updatedAt: z.number().int().min(0),
  origin: z.string().max(128),
});

export function encodeItemEvent(key: EventKey, row: ItemRow): Uint8Array {
  const event = { type: "item.upsert", ...row };
  return encoder.encode(JSON.stringify({ v: 1, ...key.seal(JSON.stringify(event)) }));
}

/** An event's content: a user version, an item version, or undefined (malformed, other key). */
export function decodeEvent(
  key: EventKey,
  data: Uint8Array,
): { user: UserRow } | { item: ItemRow } | undefined {
  try {
    const wire = wireSchema.safeParse(JSON.parse(decoder.decode(data)));
    if (!wire.success) return undefined;
    const plain = key.open(wire.data);
    if (plain === undefined) return undefined;
    const json: unknown = JSON.parse(plain);
    const item = itemEventSchema.safeParse(json);
    if (item.success) {
      const { userKey, kind, item: id, value, updatedAt, origin } = item.data;
      return { item: { userKey, kind, item: id, value, updatedAt, origin } };
    }
    const user = decodeUserJson(json);
    return user ? { user } : undefined;
  } catch {
    return undefined;
  }
}

/** A message id for the broker's duplicate window: one per item version. */
export function itemEventId(row: ItemRow): string {
  const digest = createHash("sha256")
    .update(`${row.userKey}\u0000${row.kind}\u0000${row.item}\u0000${row.value ?? ""}`)
    .digest("base64url");
  return `item-${row.updatedAt}-${digest.slice(0, 22)}`;
}

/** The user in an event, or undefined when it is malformed or sealed under another key. */
export function decodeUserEvent(key: EventKey, data: Uint8Array): UserRow | undefined {
  const event = decodeEvent(key, data);
  return event && "user" in event ? event.user : undefined;
}

function decodeUserJson(json: unknown): UserRow | undefined {
  const event = userEventSchema.safeParse(json);
  if (!event.success) return undefined;
  const { key: k, name, hash, updatedAt, origin, secrets } = event.data;
  return { key: k, name, hash, updatedAt, origin, ...(secrets ? { secrets } : {}) };
}

/** A message id for the broker's duplicate window: one per user version. */
export function eventId(row: UserRow): string {
  return `${row.updatedAt}-${row.hash.slice(-22)}`;
}
