/**
 * `chorus.auth.<id>.items`: the session's user's stars, playlists and play
 * counts (wire/user-data.ts). A change is written to this machine's SQLite
 * file first (the system of record), then published as an item event that
 * every other machine's auth nodes apply; the newest version of an item
 * wins everywhere. Deletions are kept (value null) so they win too.
 */
import type { Actor } from "../runtime/actor.js";
import type { EventKey } from "../../wire/seal.js";
import type { Item, ItemsRequest } from "../../wire/user-data.js";
import type { SessionTable } from "./sessions.js";
import { publishItem } from "./sync.js";
import type { UserStore } from "./users.js";

export class UserItems {
  /** Per user: changes run one after another (a read-modify-write by the caller stays ordered). */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly actor: Actor,
    private readonly store: UserStore,
    private readonly sessions: SessionTable,
    private readonly key: EventKey,
  ) {}

  async handle(req: ItemsRequest): Promise<Item[]> {
    const { userKey } = this.sessions.check(req.sessionId, req.token);
    if (req.op === "list") {
      const rows = await this.store.items(userKey, req.kind);
      return rows
        .filter((r) => r.value !== null)
        .map((r) => ({
          kind: r.kind as Item["kind"],
          id: r.item,
          value: r.value,
          updatedAt: r.updatedAt,
        }));
    }
    const run = async (): Promise<Item[]> => {
      const stored: Item[] = [];
      for (const item of req.items) {
        const previous = await this.store.item(userKey, item.kind, item.id);
        const row = {
          userKey,
          kind: item.kind,
          item: item.id,
          value: item.value,
          // Strictly newer than what it replaces, wherever that was made.
          updatedAt: Math.max(Date.now(), (previous?.updatedAt ?? 0) + 1),
          origin: this.actor.host,
        };
        await this.store.upsertItem(row);
        try {
          await publishItem(this.actor.nc, this.key, row);
        } catch (err) {
          // Kept here; the next catch-up republishes what the stream lacks.
          this.actor.log.warn("cannot publish an item", { error: String(err) });
        }
        stored.push({ ...item, updatedAt: row.updatedAt });
      }
      return stored;
    };
    const next = (this.chains.get(userKey) ?? Promise.resolve()).then(run, run);
    const settled = next.catch(() => undefined);
    this.chains.set(userKey, settled);
    try {
      return await next;
    } finally {
      if (this.chains.get(userKey) === settled) this.chains.delete(userKey);
    }
  }
}
