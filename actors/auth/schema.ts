/**
 * The users table: its TypeORM entity (an EntitySchema with explicit column
 * types, so no decorator metadata is needed) and its migrations.
 *
 * Migrations are written to be safe when two auth nodes of one machine open
 * a fresh file at the same moment: `IF NOT EXISTS` / `INSERT OR IGNORE`.
 */
import { EntitySchema, type MigrationInterface, type QueryRunner } from "typeorm";
import { userKey } from "./names.js";
import { hashPassword } from "./passwords.js";

export interface UserRow {
  /** The lookup key: the NFC, case-folded name (see names.ts). */
  key: string;
  /** The name as it was first given (shown to people). */
  name: string;
  /** argon2id hash in PHC format (parameters included). */
  hash: string;
  /** Milliseconds since the epoch; the newest version of a user wins everywhere. */
  updatedAt: number;
  /** The host id of the machine where this version was made. */
  origin: string;
  /** API keys and the sealed app password, JSON (secrets.ts); "{}" when none. */
  secrets?: string;
}

export const UserEntity = new EntitySchema<UserRow>({
  name: "User",
  tableName: "users",
  columns: {
    key: { type: "text", primary: true },
    name: { type: "text" },
    hash: { type: "text" },
    updatedAt: { type: "integer", name: "updated_at" },
    origin: { type: "text" },
    secrets: { type: "text", default: "{}" },
  },
});

export class CreateUsers1764000000000 implements MigrationInterface {
  name = "CreateUsers1764000000000";

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(
      `CREATE TABLE IF NOT EXISTS "users" (
        "key" text PRIMARY KEY NOT NULL,
        "name" text NOT NULL,
        "hash" text NOT NULL,
        "updated_at" integer NOT NULL,
        "origin" text NOT NULL
      )`,
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`DROP TABLE "users"`);
  }
}

/** The original system's demo users, on a fresh install only. */
export const demoUsers = ["Someone", "AnotherUser", "FinalUser"] as const;
export const demoPassword = "password123";

export class SeedDemoUsers1764000000001 implements MigrationInterface {
  name = "SeedDemoUsers1764000000001";

  /** Hashing takes a while: hash first, then insert each row on its own, holding no lock meanwhile. */
  transaction = false;

  async up(runner: QueryRunner): Promise<void> {
    const hashes = await Promise.all(demoUsers.map(() => hashPassword(demoPassword)));
    for (const [i, name] of demoUsers.entries()) {
      // updated_at 0: any user made later, anywhere, wins over a demo seed.
      await runner.query(
        `INSERT OR IGNORE INTO "users" ("key", "name", "hash", "updated_at", "origin")
         VALUES (?, ?, ?, 0, 'seed')`,
        [userKey(name), name, hashes[i]],
      );
    }
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`DELETE FROM "users" WHERE "origin" = 'seed'`);
  }
}

/** API keys and app passwords (actors/auth/secrets.ts), with the user's row. */
export class AddUserSecrets1765000000000 implements MigrationInterface {
  name = "AddUserSecrets1765000000000";

  async up(runner: QueryRunner): Promise<void> {
    // No ADD COLUMN IF NOT EXISTS in SQLite: a node that lost the race finds it there.
    const columns = (await runner.query(`PRAGMA table_info("users")`)) as Array<{ name: string }>;
    if (columns.some((c) => c.name === "secrets")) return;
    await runner.query(`ALTER TABLE "users" ADD COLUMN "secrets" text NOT NULL DEFAULT '{}'`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`ALTER TABLE "users" DROP COLUMN "secrets"`);
  }
}

/** Stars, playlists and play counts (wire/user-data.ts): one row per item, the newest wins. */
export class CreateUserItems1765000000001 implements MigrationInterface {
  name = "CreateUserItems1765000000001";

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(
      `CREATE TABLE IF NOT EXISTS "user_items" (
        "user_key" text NOT NULL,
        "kind" text NOT NULL,
        "item" text NOT NULL,
        "value" text,
        "updated_at" integer NOT NULL,
        "origin" text NOT NULL,
        PRIMARY KEY ("user_key", "kind", "item")
      )`,
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`DROP TABLE "user_items"`);
  }
}

/** One user item as stored; `value` null is a deletion kept so it wins everywhere. */
export interface ItemRow {
  userKey: string;
  kind: string;
  item: string;
  value: string | null;
  updatedAt: number;
  origin: string;
}

export const migrations = [
  CreateUsers1764000000000,
  SeedDemoUsers1764000000001,
  AddUserSecrets1765000000000,
  CreateUserItems1765000000001,
];
