/**
 * Which file names may travel between machines. A synced name becomes a path
 * on every control node, so it must never climb out of the music folder,
 * hide itself, or smuggle control characters: anything doubtful is skipped.
 */
import path from "node:path";
import { containerOf } from "./media.js";

/** Longest synced name in UTF-8 bytes (file systems allow 255; we leave room for conflict names). */
export const maxNameBytes = 200;

/** Hidden temporary files a receiver writes before the atomic rename. */
export const tempPrefix = ".chorus-sync-";
export const tempSuffix = ".tmp";

/** A name ending in one of the music containers (`.wav`, `.flac`, `.mp3`, ...; any case). */
export function isMusicName(name: string): boolean {
  return containerOf(name) !== undefined;
}

/** Why `name` may not be synced, or undefined when it may. */
export function unsafeReason(name: string): string | undefined {
  if (name.length === 0) return "empty name";
  if (Buffer.byteLength(name, "utf8") > maxNameBytes) return `longer than ${maxNameBytes} bytes`;
  if (name.includes("\0")) return "contains NUL";
  if (name.includes("/") || name.includes("\\")) return "contains a path separator";
  if (name.includes("..")) return 'contains ".."';
  if (name.startsWith(".")) return "hidden file";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return "contains control characters";
  if (name !== name.trim()) return "leading or trailing spaces";
  if (!isMusicName(name)) return "not a music file (.wav, .flac, .mp3, .ogg, .opus, .m4a)";
  return undefined;
}

export function isSafeName(name: string): boolean {
  return unsafeReason(name) === undefined;
}

/** `song (conflict host-1).wav`, or `song (conflict host-1 2).wav` for the second one. */
export function conflictName(name: string, host: string, attempt = 1): string {
  const ext = path.extname(name);
  const suffix = ` (conflict ${host}${attempt > 1 ? ` ${attempt}` : ""})${ext}`;
  let base = name.slice(0, name.length - ext.length);
  while (base.length > 1 && Buffer.byteLength(base + suffix, "utf8") > maxNameBytes) {
    base = base.slice(0, -1);
  }
  return base + suffix;
}

export function isTempName(name: string): boolean {
  return name.startsWith(tempPrefix) && name.endsWith(tempSuffix);
}
