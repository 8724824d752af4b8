/**
 * The users of one machine: a SQLite file (`DATA/auth/users.sqlite`) opened
 * through TypeORM, shared by every auth node of that machine and by
 * `chorus user add`. WAL lets readers and one writer work at once, the busy
 * timeout makes concurrent writers wait instead of failing, and FULL sync
 * makes a committed user survive a killed process.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { DataSource, type Repository } from "typeorm";
import type { ChorusConfig } from "../runtime/config.js";
import { privateFolder } from "../runtime/identity.js";
import { migrations, UserEntity, type ItemRow, type UserRow } from "./schema.js";

export function usersFile(config: ChorusConfig): string {
  return path.join(config.data, "auth", "users.sqlite");
}

/** True when `a` is a newer version of a user than `b` (ties broken by hash, so every node agrees). */
export function newer(
  a: Pick<UserRow, "updatedAt" | "hash">,
  b: Pick<UserRow, "updatedAt" | "hash">,
): boolean {
  return a.updatedAt > b.updatedAt || (a.updatedAt === b.updatedAt && a.hash > b.hash);
}

/** This machine's users file, in the data folder and its auth folder, both private (700). */
export function openUsers(config: ChorusConfig): Promise<UserStore> {
  const file = usersFile(config);
  privateFolder(config.data);
  privateFolder(path.dirname(file));
  return UserStore.open(file);
}

/**
 * The users file holds password hashes: it is made 600 before SQLite opens it
 * (SQLite gives its -wal and -shm files the same mode), and an older, more
 * open one is closed too.
 */
function keepPrivate(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, "a", 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(f)) chmodSync(f, 0o600);
  }
}

export class UserStore {
  private constructor(
    private readonly db: DataSource,
    private readonly repo: Repository<UserRow>,
  ) {}

  static async open(file: string): Promise<UserStore> {
    keepPrivate(file);
    const db = new DataSource({
      type: "better-sqlite3",
      database: file,
      entities: [UserEntity],
      migrations,
      migrationsTransactionMode: "each",
      synchronize: false,
      enableWAL: true,
      timeout: 10_000,
      prepareDatabase: (raw: { pragma(source: string): unknown }) => {
        raw.pragma("synchronous = FULL");
      },
    });
    await db.initialize();
    // Two nodes migrating a fresh file at once: the loser's run fails on the
    // migrations table; the migrations themselves are idempotent, so retry.
    for (let attempt = 1; ; attempt++) {
      try {
        await db.runMigrations();
        break;
      } catch (err) {
        if (attempt >= 5) {
          await db.destroy();
          throw err;
        }
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
    return new UserStore(db, db.getRepository(UserEntity));
  }

  async find(key: string): Promise<UserRow | undefined> {
    return (await this.repo.findOneBy({ key })) ?? undefined;
  }

  /** The user holding the API key with this id (12 hex digits, checked by the caller). */
  async findByKeyId(id: string): Promise<UserRow | undefined> {
    if (!/^[0-9a-f]{12}$/.test(id)) return undefined;
    const rows = await this.repo
      .createQueryBuilder("u")
      .where("u.secrets LIKE :pattern", { pattern: `%"id":"${id}"%` })
      .getMany();
    return rows[0];
  }

  async all(): Promise<UserRow[]> {
    return this.repo.find({ order: { key: "ASC" } });
  }

  /**
   * Store `row` unless the file already holds the same or a newer version of
   * that user. Idempotent, and safe with several writers: one statement.
   * Resolves true when the file now holds exactly `row`.
   */
  async upsert(row: UserRow): Promise<boolean> {
    await this.db.query(
      `INSERT INTO "users" ("key", "name", "hash", "updated_at", "origin", "secrets")
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT ("key") DO UPDATE SET
         "name" = excluded."name", "hash" = excluded."hash",
         "updated_at" = excluded."updated_at", "origin" = excluded."origin",
         "secrets" = excluded."secrets"
       WHERE excluded."updated_at" > "users"."updated_at"
          OR (excluded."updated_at" = "users"."updated_at" AND excluded."hash" > "users"."hash")`,
      [row.key, row.name, row.hash, row.updatedAt, row.origin, row.secrets ?? "{}"],
    );
    const now = await this.find(row.key);
    return now?.hash === row.hash && now.updatedAt === row.updatedAt;
  }

  /**
   * Store an item unless a newer version of it is there (ties: the larger
   * value wins, so every machine agrees). Resolves true when it was stored.
   */
  async upsertItem(row: ItemRow): Promise<boolean> {
    await this.db.query(
      `INSERT INTO "user_items" ("user_key", "kind", "item", "value", "updated_at", "origin")
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT ("user_key", "kind", "item") DO UPDATE SET
         "value" = excluded."value", "updated_at" = excluded."updated_at",
         "origin" = excluded."origin"
       WHERE excluded."updated_at" > "user_items"."updated_at"
          OR (excluded."updated_at" = "user_items"."updated_at"
              AND coalesce(excluded."value", '') > coalesce("user_items"."value", ''))`,
      [row.userKey, row.kind, row.item, row.value, row.updatedAt, row.origin],
    );
    const now = await this.item(row.userKey, row.kind, row.item);
    return now?.updatedAt === row.updatedAt && now.value === row.value;
  }

  async item(userKey: string, kind: string, item: string): Promise<ItemRow | undefined> {
    const rows = await this.itemRows(`WHERE "user_key" = ? AND "kind" = ? AND "item" = ?`, [
      userKey,
      kind,
      item,
    ]);
    return rows[0];
  }

  /** A user's items (of one kind), deletions included. */
  async items(userKey: string, kind?: string): Promise<ItemRow[]> {
    return kind
      ? this.itemRows(`WHERE "user_key" = ? AND "kind" = ?`, [userKey, kind])
      : this.itemRows(`WHERE "user_key" = ?`, [userKey]);
  }

  async allItems(): Promise<ItemRow[]> {
    return this.itemRows("", []);
  }

  private async itemRows(where: string, params: unknown[]): Promise<ItemRow[]> {
    const rows = (await this.db.query(
      `SELECT "user_key" AS "userKey", "kind", "item", "value", "updated_at" AS "updatedAt",
              "origin" FROM "user_items" ${where} ORDER BY "updated_at"`,
      params,
    )) as ItemRow[];
    return rows.map((r) => ({ ...r, updatedAt: Number(r.updatedAt) }));
  }

  /** SQLite's own consistency check: "ok" when the file is sound. */
  async integrityCheck(): Promise<string> {
    const rows = (await this.db.query(`PRAGMA integrity_check`)) as Array<Record<string, string>>;
    return rows.map((r) => Object.values(r).join(" ")).join("\n");
  }

  async close(): Promise<void> {
    if (this.db.isInitialized) await this.db.destroy();
  }
}
