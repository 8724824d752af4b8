/**
 * User names: what a valid name is, and the key it is stored and looked up
 * under (NFC, then case-folded), so "Someone", "SOMEONE" and a decomposed
 * "Somé" spelling all find the same user.
 */
import { ChorusError } from "../../wire/errors.js";

export const maxNameLength = 64;

/** Control, format, surrogate, private-use and unassigned characters, and any space but U+0020. */
const forbidden = /[\p{C}\p{Z}]/u;

/** Throws BAD_REQUEST with a precise message unless `raw` is an acceptable user name. */
export function checkUserName(raw: string): string {
  if (/\p{Cs}/u.test(raw)) throw new ChorusError("BAD_REQUEST", "user name is not valid Unicode");
  const name = raw.normalize("NFC");
  if (name.length === 0) throw new ChorusError("BAD_REQUEST", "user name is empty");
  if ([...name].length > maxNameLength) {
    throw new ChorusError("BAD_REQUEST", `user name is longer than ${maxNameLength} characters`);
  }
  if (forbidden.test(name.replaceAll(" ", ""))) {
    throw new ChorusError(
      "BAD_REQUEST",
      "user name contains control or invisible characters (only plain spaces are allowed)",
    );
  }
  if (name.trim() !== name || name.includes("  ")) {
    throw new ChorusError(
      "BAD_REQUEST",
      "user name must not start or end with a space or hold two spaces in a row",
    );
  }
  return name;
}

/**
 * The lookup key of a valid name: NFC, then a full case fold approximated by
 * upper- then lower-casing (so "ß" and "SS" fold alike), then NFC again.
 */
export function userKey(name: string): string {
  return checkUserName(name).toUpperCase().toLowerCase().normalize("NFC");
}
