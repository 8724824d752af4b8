/**
 * A user's credentials besides the password, for Subsonic clients: API keys
 * (the OpenSubsonic `apiKeyAuthentication` extension) and one app password
 * (legacy token auth). They live in the user's row (`secrets`, JSON), so
 * they reach every machine with the user's versions (events.ts) and the
 * newest version wins, as for passwords.
 *
 *  - An API key is `ck_<id>_<secret>`: 12 hex digits naming it (listed,
 *    revoked, looked up by), then 32 random bytes. Only the secret's
 *    SHA-256 is kept: a key has 256 bits of entropy, so a slow hash adds
 *    nothing (argon2 is for passwords people choose).
 *  - Token auth sends md5(app password + salt): the server needs the app
 *    password itself, so it is kept sealed under the actors' event key (the
 *    actor secret), never the user's password, and made at random.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { EventKey } from "../../wire/seal.js";

const keySchema = z.object({
  id: z.string().regex(/^[0-9a-f]{12}$/),
  hash: z.string().max(64),
  created: z.number().int().min(0),
});

const secretsSchema = z.object({
  keys: z.array(keySchema).max(100).optional(),
  app: z.object({ iv: z.string().max(64), data: z.string().max(2048) }).optional(),
});
export type UserSecrets = z.infer<typeof secretsSchema>;
export type ApiKeyInfo = z.infer<typeof keySchema>;

const keyPattern = /^ck_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export function parseSecrets(json: string | undefined): UserSecrets {
  try {
    const parsed = secretsSchema.safeParse(JSON.parse(json ?? "{}"));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

export const sha256 = (text: string): string =>
  createHash("sha256").update(text).digest("base64url");

/** The id inside a key, or undefined when it is not one of ours. */
export function apiKeyId(key: string): string | undefined {
  return keyPattern.exec(key)?.[1];
}

/** A fresh key: the key itself (shown once) and what is stored. */
export function newApiKey(now = Date.now()): { key: string; info: ApiKeyInfo } {
  const id = randomBytes(6).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return { key: `ck_${id}_${secret}`, info: { id, hash: sha256(secret), created: now } };
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function apiKeyMatches(secrets: UserSecrets, key: string): boolean {
  const match = keyPattern.exec(key);
  if (!match) return false;
  const stored = secrets.keys?.find((k) => k.id === match[1]);
  return stored !== undefined && equal(stored.hash, sha256(match[2] as string));
}

/** A random app password: people paste it into their app once. */
export function newAppPassword(): string {
  return randomBytes(18).toString("base64url");
}

export function sealAppPassword(key: EventKey, password: string): UserSecrets["app"] {
  return key.seal(password);
}

/** Subsonic's token check: token = md5(app password + salt), hex. */
export function tokenMatches(
  secrets: UserSecrets,
  key: EventKey,
  token: string,
  salt: string,
): boolean {
  if (!secrets.app) return false;
  const app = key.open(secrets.app);
  if (app === undefined) return false;
  const expected = createHash("md5")
    .update(app + salt, "utf8")
    .digest("hex");
  return equal(expected, token.toLowerCase());
}
