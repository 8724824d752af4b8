/**
 * A user's own data besides credentials: stars, playlists and play counts
 * (the gateway's star / playlist / scrobble methods). Kept by auth nodes in
 * each machine's SQLite file and carried between machines as user events,
 * item by item; the newest version of an item wins.
 *
 *   chorus.auth.<node>.items  {sessionId, token, op: "list", kind?}   → Item[]
 *                             {sessionId, token, op: "set", items}    → Item[]
 *
 * Only the session's own user's items are read or written.
 */
import { z } from "zod";
import { declare } from "./contract.js";
import { sessionCredentialsSchema } from "./session.js";

export const itemKinds = ["star", "playlist", "plays"] as const;
export type ItemKind = (typeof itemKinds)[number];

/** An item: its kind, an id (a song, album or artist id; a playlist's id), and a JSON value. */
export const itemSchema = z.object({
  kind: z.enum(itemKinds),
  id: z.string().min(1).max(255),
  /** JSON; null deletes the item (unstar, delete a playlist). */
  value: z
    .string()
    .max(256 * 1024)
    .nullable(),
  updatedAt: z.number().int().min(0).optional(),
});
export type Item = z.infer<typeof itemSchema>;

export const itemsRequestSchema = z.discriminatedUnion("op", [
  sessionCredentialsSchema.extend({ op: z.literal("list"), kind: z.enum(itemKinds).optional() }),
  sessionCredentialsSchema.extend({
    op: z.literal("set"),
    items: z.array(itemSchema).min(1).max(1000),
  }),
]);
export type ItemsRequest = z.infer<typeof itemsRequestSchema>;

export const authItems = declare({
  name: "auth-items",
  subject: "chorus.auth.<id>.items",
  request: itemsRequestSchema,
  reply: z.array(itemSchema),
  callers: "listener",
  maxBody: 512 * 1024,
  publishers: "logged-in clients (the HTTP gateway)",
  listeners: "that auth node",
  what: "the session's user's stars, playlists and play counts: list, or set (null deletes)",
});
