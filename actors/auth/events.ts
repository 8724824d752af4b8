/**
 * User events on the JetStream stream CHORUS_USERS (subject
 * `chorus.users.events`): one event per user version, sealed with the
 * actors' event key (see seal.ts). Every auth node applies them to its
 * machine's SQLite file; the newest version of a user wins (users.ts newer()).
 */
import { z } from "zod";
import type { EventKey } from "../../wire/seal.js";
import type { UserRow } from "./schema.js";

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

/** The user in an event, or undefined when it is malformed or sealed under another key. */
export function decodeUserEvent(key: EventKey, data: Uint8Array): UserRow | undefined {
  try {
    const wire = wireSchema.safeParse(JSON.parse(decoder.decode(data)));
    if (!wire.success) return undefined;
    const plain = key.open(wire.data);
    if (plain === undefined) return undefined;
    const event = userEventSchema.safeParse(JSON.parse(plain));
    if (!event.success) return undefined;
    const { key: k, name, hash, updatedAt, origin, secrets } = event.data;
    return { key: k, name, hash, updatedAt, origin, ...(secrets ? { secrets } : {}) };
  } catch {
    return undefined;
  }
}

/** A message id for the broker's duplicate window: one per user version. */
export function eventId(row: UserRow): string {
  return `${row.updatedAt}-${row.hash.slice(-22)}`;
}
