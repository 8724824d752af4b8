/**
 * The auth node: opens its machine's users file, follows user events, and
 * serves login / beat / logout / verify on `chorus.auth.<id>.*`. Its load is
 * its live sessions; it stops itself once it has had none for `idleMs`.
 */
import type { Actor } from "../runtime/actor.js";
import { actorPasswordOf } from "../runtime/identity.js";
import { authBeat, authCheck, authLogin, authLogout, authVerify } from "../../wire/auth.js";
import { at } from "../../wire/contract.js";
import { EventKey } from "../../wire/seal.js";
import { AuthService } from "./service.js";
import { UserItems } from "./items.js";
import { authItems } from "../../wire/user-data.js";
import { UserSync } from "./sync.js";
import { openUsers } from "./users.js";
import { sweepEvery } from "../runtime/sweep.js";

export async function startAuthNode(actor: Actor): Promise<void> {
  const store = await openUsers(actor.config);
  actor.onStop(() => store.close());
  await actor.start();

  const sync = new UserSync(
    actor.nc,
    store,
    new EventKey(actorPasswordOf(actor.config)),
    actor.log.child("users"),
  );
  actor.onStop(() => sync.stop());
  // Logins wait for the first attempt to catch up; a failed attempt is retried
  // in the background while the node serves the users it has.
  let retry: NodeJS.Timeout | undefined;
  actor.onStop(() => clearTimeout(retry));
  const ready = new Promise<void>((resolve) => {
    const attempt = (): void => {
      sync.start().then(resolve, (err: unknown) => {
        actor.log.error("cannot follow user events; serving local users, retrying", {
          error: String(err),
        });
        resolve();
        retry = setTimeout(() => {
          if (!actor.isStopping()) attempt();
        }, 2000);
      });
    };
    attempt();
  });

  const service = new AuthService(actor, store, ready);
  actor.serve(at(authLogin, actor.id), (req) => service.login(req));
  actor.serve(at(authBeat, actor.id), (req) => service.beat(req));
  actor.serve(at(authLogout, actor.id), (req) => service.logout(req));
  actor.serve(at(authVerify, actor.id), (req) => service.verify(req));
  actor.serve(at(authCheck, actor.id), (req) => service.checkCredential(req));
  const eventKey = new EventKey(actorPasswordOf(actor.config));
  const items = new UserItems(actor, store, service.sessions, eventKey);
  actor.serve(at(authItems, actor.id), (req) => items.handle(req));

  void service.watchConnection().catch(() => undefined);
  const stopSweeping = sweepEvery(Math.max(20, actor.config.heartbeatMs / 2), () =>
    service.sweep(),
  );
  actor.onStop(stopSweeping);
  actor.enableIdleShutdown();
}
