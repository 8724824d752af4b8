/**
 * A user changed (an API key revoked, a password or app password replaced):
 * every gateway hears the user event the auth nodes apply (`chorus.users.
 * events`, sealed with the actors' event key) and checks that user's
 * credentials at an auth node again on their next request, instead of
 * trusting them for up to `recheckMs`. The auth nodes apply the same event
 * from their stream; a check that overtakes it is made again a moment later.
 */
import { decodeEvent } from "../auth/events.js";
import type { Actor } from "../runtime/actor.js";
import { actorPasswordOf } from "../runtime/identity.js";
import { EventKey } from "../../wire/seal.js";
import { subjects } from "../../wire/subjects.js";
import type { GatewayUsers } from "./users.js";

const againAfterMs = 2000;

export function watchUserChanges(actor: Actor, users: GatewayUsers): void {
  const key = new EventKey(actorPasswordOf(actor.config));
  const sub = actor.nc.subscribe(subjects.userEvents, {
    callback: (_err, msg) => {
      const event = decodeEvent(key, msg.data);
      if (!event || !("user" in event)) return;
      const { key: userKey } = event.user;
      users.recheck(userKey);
      setTimeout(() => users.recheck(userKey), againAfterMs).unref();
    },
  });
  actor.onStop(() => sub.unsubscribe());
}
