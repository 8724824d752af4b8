/**
 * The auth node: opens its machine's users file, follows user events, and
 * serves login / beat / logout / verify on `chorus.auth.<id>.*`. Its load is
 * its live sessions; it stops itself once it has had none for `idleMs`.
 */
import type { Actor } from "../runtime/actor.js";
import { actorPasswordOf } from "../runtime/identity.js";
import { subjects } from "../../wire/subjects.js";
import { loginRequestSchema, maxLoginBody, sessionRequestSchema } from "../../wire/auth.js";
import { EventKey } from "./seal.js";
import { AuthService } from "./service.js";
import { UserSync } from "./sync.js";
import { UserStore, usersFile } from "./users.js";
import { sweepEvery } from "../runtime/sweep.js";

export async function startAuthNode(actor: Actor): Promise<void> {
  const store = await UserStore.open(usersFile(actor.config));
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
  const small = { maxBody: 1024 };
  actor.serve(subjects.authLogin(actor.id), loginRequestSchema, (req) => service.login(req), {
    maxBody: maxLoginBody,
  });
  actor.serve(subjects.authBeat(actor.id), sessionRequestSchema, (req) => service.beat(req), small);
  actor.serve(
    subjects.authLogout(actor.id),
    sessionRequestSchema,
    (req) => service.logout(req),
    small,
  );
  actor.serve(
    subjects.authVerify(actor.id),
    sessionRequestSchema,
    (req) => service.verify(req),
    small,
  );

  const stopSweeping = sweepEvery(Math.max(20, actor.config.heartbeatMs / 2), () =>
    service.sweep(),
  );
  actor.onStop(stopSweeping);
  actor.enableIdleShutdown();
}
