/**
 * The one id and inbox pattern of the contract. Ids go into subjects, so they
 * may hold no `.`, `*`, `>` or spaces: names from users never go into one.
 */
import { z } from "zod";
import { ChorusError } from "./errors.js";

export const idPattern = /^[A-Za-z0-9_-]{1,64}$/;

export const idSchema = z.string().regex(idPattern, "must be an id ([A-Za-z0-9_-], 1 to 64)");

/** A reply inbox a node may push to: `_INBOX.` and id-safe tokens. */
export const inboxSchema = z
  .string()
  .max(256)
  .regex(/^_INBOX\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "must be an _INBOX");

/** Throws unless `id` is safe to put in a subject. */
export function subjectId(id: string): string {
  if (!idPattern.test(id)) throw new ChorusError("BAD_REQUEST", "invalid id");
  return id;
}
