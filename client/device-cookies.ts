/**
 * Where a client keeps the device cookies its logins returned (see
 * actors/auth/device-cookie.ts): one per user name, sent with the next login
 * as that user so that strangers' wrong guesses for the name do not lock
 * this device out. A cookie is not a login: it only chooses which failures
 * slow a login down. Still, it is kept like a secret (mode 600, never logged).
 *
 *   const devices = new MemoryDeviceCookies();          // per process (the player)
 *   const devices = new FileDeviceCookies(file);        // across runs (the CLI)
 *   await UserSession.login(nc, user, password, { devices });
 */
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { privateFolder } from "../actors/runtime/identity.js";
import { deviceCookieSchema } from "../wire/auth.js";

export interface DeviceCookieJar {
  /** The cookie kept for `user` (as typed), if any. */
  get(user: string): string | undefined;
  /** Keep `cookie` for `user`, replacing the one kept before. */
  set(user: string, cookie: string): void;
}

/** Users a jar keeps cookies for; the least recently stored are forgotten first. */
export const maxDeviceCookies = 64;

/**
 * The user's name folded as auth nodes fold it (actors/auth/names.ts
 * userKey: NFC, case-folded), so "someone" finds Someone's cookie; undefined
 * for a name no node accepts (too long, not valid Unicode).
 */
function keyOf(user: string): string | undefined {
  if (user.length === 0 || user.length > 256 || /\p{Cs}/u.test(user)) return undefined;
  return user.normalize("NFC").toUpperCase().toLowerCase().normalize("NFC");
}

export class MemoryDeviceCookies implements DeviceCookieJar {
  protected readonly cookies = new Map<string, string>();

  get(user: string): string | undefined {
    const key = keyOf(user);
    return key === undefined ? undefined : this.cookies.get(key);
  }

  set(user: string, cookie: string): void {
    const key = keyOf(user);
    if (key === undefined || !deviceCookieSchema.safeParse(cookie).success) return;
    this.cookies.delete(key);
    this.cookies.set(key, cookie);
    for (const oldest of this.cookies.keys()) {
      if (this.cookies.size <= maxDeviceCookies) break;
      this.cookies.delete(oldest);
    }
  }
}

const fileSchema = z.object({
  v: z.literal(1),
  cookies: z.array(z.tuple([z.string().max(1024), deviceCookieSchema])).max(maxDeviceCookies),
});

/**
 * A jar kept in a JSON file (mode 600, written whole and renamed into
 * place). A missing or unreadable file is an empty jar; a file that cannot
 * be written leaves the cookie in memory for this process only.
 */
export class FileDeviceCookies extends MemoryDeviceCookies {
  constructor(private readonly file: string) {
    super();
    try {
      const parsed = fileSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
      if (parsed.success)
        for (const [key, cookie] of parsed.data.cookies) this.cookies.set(key, cookie);
    } catch {
      // no file yet, or not ours: start empty
    }
  }

  override set(user: string, cookie: string): void {
    super.set(user, cookie);
    try {
      privateFolder(path.dirname(this.file));
      const temp = `${this.file}.${process.pid}.tmp`;
      const body = { v: 1, cookies: [...this.cookies] };
      writeFileSync(temp, JSON.stringify(body) + "\n", { mode: 0o600 });
      chmodSync(temp, 0o600);
      renameSync(temp, this.file);
    } catch {
      // kept in memory for this process
    }
  }
}
