/**
 * The user's items (stars, playlists, play counts) at the auth node that
 * holds their session (wire/user-data.ts), with the values' JSON shapes.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import type { UserSession } from "../../client/auth.js";
import { at } from "../../wire/contract.js";
import { authItems, type Item, type ItemKind } from "../../wire/user-data.js";
import { call } from "../runtime/endpoint.js";

const requestMs = 5000;

export const starSchema = z.object({ at: z.number() });
export const playlistSchema = z.object({
  name: z.string().max(512),
  comment: z.string().max(4096).optional(),
  public: z.boolean().optional(),
  songs: z.array(z.string().max(255)).max(10_000),
  created: z.number(),
  changed: z.number(),
});
export type Playlist = z.infer<typeof playlistSchema>;
export const playsSchema = z.object({ count: z.number().int().min(0), last: z.number() });

/** The parsed items of one kind; ones whose value does not parse are skipped. */
export function parsed<T>(items: Item[], schema: z.ZodType<T>): Array<{ id: string; value: T }> {
  const out: Array<{ id: string; value: T }> = [];
  for (const item of items) {
    try {
      const value = schema.safeParse(JSON.parse(item.value ?? "null"));
      if (value.success) out.push({ id: item.id, value: value.data });
    } catch {
      // a value written by a newer version: not ours to read
    }
  }
  return out;
}

export class UserItemsClient {
  constructor(private readonly nc: NatsConnection) {}

  list(session: UserSession, kind: ItemKind): Promise<Item[]> {
    const request = { ...session.credentials(), op: "list" as const, kind };
    return call(this.nc, at(authItems, session.authNode), request, requestMs);
  }

  /** Set items (value null deletes). */
  set(
    session: UserSession,
    items: Array<{ kind: ItemKind; id: string; value: unknown }>,
  ): Promise<Item[]> {
    const request = {
      ...session.credentials(),
      op: "set" as const,
      items: items.map((i) => ({
        kind: i.kind,
        id: i.id,
        value: i.value === null ? null : JSON.stringify(i.value),
      })),
    };
    return call(this.nc, at(authItems, session.authNode), request, requestMs);
  }
}
