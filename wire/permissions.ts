/**
 * The broker rights of the two client identities, made from the contract
 * (actors/runtime/broker-auth.ts writes them into user JWTs):
 *
 *  - public: what a client has before it logs in, shared by everyone who can
 *    reach the broker: ask the prime for an auth node and log in there
 *    (endpoints declared `callers: "anyone"`), and read replies in the one
 *    inbox prefix all strangers share (login replies are sealed to a key the
 *    client made, so reading others' is useless).
 *  - session: one logged-in client's identity, minted by its auth node for a
 *    key pair the client made: every endpoint declared for listeners, its
 *    own inbox prefix only, and its own P2P host's presence and relay
 *    subjects (its host id is its client id).
 */
import { wildcard } from "./contract.js";
import { listenerInboxPrefix } from "./ids.js";
import { endpoints, subjects } from "./subjects.js";

export interface Permissions {
  publish: string[];
  subscribe: string[];
}

/** Where the public identity's replies arrive (nats.js `inboxPrefix`). */
export const publicInboxPrefix = `${listenerInboxPrefix}.public`;

/** Where a session's replies and audio arrive: its client id is a user nkey (`U...`, 56 characters). */
export function sessionInboxPrefix(clientId: string): string {
  return `${listenerInboxPrefix}.${clientId}`;
}

function requestsOf(...callers: string[]): string[] {
  return endpoints.filter((e) => callers.includes(e.callers)).map((e) => wildcard(e.subject));
}

export function publicPermissions(): Permissions {
  return { publish: requestsOf("anyone"), subscribe: [`${publicInboxPrefix}.>`] };
}

export function sessionPermissions(clientId: string): Permissions {
  return {
    publish: [
      ...requestsOf("anyone", "listener"),
      // P2P: its own host's presence and the frames it relays, nobody else's.
      subjects.hostPresence(clientId),
      subjects.relay(clientId),
      // nats.js asks for JetStream's account info; the answer holds no one's data.
      "$JS.API.INFO",
      // Flow control replies for the audio a file node's push consumer sends to its inbox.
      "$JS.FC.>",
    ],
    subscribe: [`${sessionInboxPrefix(clientId)}.>`, subjects.hostPresenceAll],
  };
}
