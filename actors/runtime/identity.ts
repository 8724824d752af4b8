/**
 * Who a process is: its machine's host id (kept in the data folder, so it is
 * stable for that folder and never derived from an IP) and fresh node ids.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ChorusConfig } from "./config.js";

export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString("hex")}`;
}

/**
 * A folder only this user may enter (mode 700): the data folder holds the
 * actor secret, the users' password hashes and the broker's store. An older,
 * more open folder is closed too.
 */
export function privateFolder(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

/** Read a small secret or id from the data folder, creating it on first use. */
function readOrCreate(file: string, make: () => string, mode = 0o644): string {
  try {
    const value = readFileSync(file, "utf8").trim();
    if (value) return value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  privateFolder(path.dirname(file));
  const value = make();
  try {
    // "wx": when two processes start at once, the first write wins.
    writeFileSync(file, value + "\n", { flag: "wx", mode });
    return value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return readFileSync(file, "utf8").trim();
  }
}

export function hostIdOf(config: ChorusConfig): string {
  return config.hostId ?? readOrCreate(path.join(config.data, "host-id"), () => newId("host"));
}

const actorSecretFile = (config: ChorusConfig): string => path.join(config.data, "actor.secret");

/** The actor role's broker password: configured, or generated once per data folder. */
export function actorPasswordOf(config: ChorusConfig): string {
  return (
    config.actorPassword ??
    readOrCreate(actorSecretFile(config), () => randomBytes(24).toString("base64url"), 0o600)
  );
}

/**
 * The actor secret if this machine holds one (configured, or in the data
 * folder), without generating it: a player-only machine has none.
 */
export function knownActorSecret(config: ChorusConfig): string | undefined {
  if (config.actorPassword) return config.actorPassword;
  try {
    return readFileSync(actorSecretFile(config), "utf8").trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    return undefined;
  }
}
