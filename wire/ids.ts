/**
 * The one id and inbox pattern of the contract. Ids go into subjects, so they
 * may hold no `.`, `*`, `>` or spaces: names from users never go into one.
 */
import { z } from "zod";
import { ChorusError } from "./errors.js";

export const idPattern = /^[A-Za-z0-9_-]{1,64}$/;

export const idSchema = z.string().regex(idPattern, "must be an id ([A-Za-z0-9_-], 1 to 64)");

/**
 * A client id: the public key of the user nkey a client made for its broker
 * identity (`U` + 55 base32 characters); also its P2P host id.
 */
export const clientIdPattern = /^U[A-Z2-7]{55}$/;
export const clientIdSchema = z.string().regex(clientIdPattern, "must be a user nkey (U...)");

/** Reply inboxes: players' (nats.js's default) and actors' (listeners may not read those). */
export const listenerInboxPrefix = "_INBOX";
export const actorInboxPrefix = "_CHORUS_ACTOR_INBOX";

const tokens = "(\\.[A-Za-z0-9_-]+)+$";
const listenerInbox = new RegExp(`^${listenerInboxPrefix}${tokens}`);
const replyInbox = new RegExp(`^(${listenerInboxPrefix}|${actorInboxPrefix})${tokens}`);

/** A reply inbox a node may push to: `_INBOX.` and id-safe tokens. */
export const inboxSchema = z.string().max(256).regex(listenerInbox, "must be an _INBOX");

/**
 * Whether a request's reply subject is an inbox. A node answers nothing else:
 * its answer goes out with actor rights, so a reply subject of `$JS.API...`
 * or `chorus...` would make it act for whoever sent the request.
 */
export function isReplyInbox(subject: string): boolean {
  return subject.length <= 256 && replyInbox.test(subject);
}

/** Throws unless `id` is safe to put in a subject. */
export function subjectId(id: string): string {
  if (!idPattern.test(id)) throw new ChorusError("BAD_REQUEST", "invalid id");
  return id;
}
