/**
 * Chorus runs only on a Chorus broker: one started with broker/nats.conf,
 * which has JetStream, knows the actor secret and keeps listeners to what a
 * player needs. Anything else answering on the port (Debian's own
 * nats-server service, another project's broker) is refused with one message
 * that says what is wrong and how to fix it, instead of half working.
 */
import {
  AuthorizationError,
  connect,
  PermissionViolationError,
  UserAuthenticationExpiredError,
  type NatsConnection,
} from "@nats-io/transport-node";
import type { ChorusConfig } from "./config.js";
import { connectBroker, listenAddress, serversOf } from "./connect.js";
import { ChorusError } from "../../wire/errors.js";
import { brokerWantsTls } from "../../broker/tls.js";

function notChorus(config: ChorusConfig, problem: string, fix?: string): ChorusError {
  const other = listenAddress(config).port + 1;
  return new ChorusError(
    "UNAVAILABLE",
    `the broker at ${config.nats} is not a Chorus broker: ${problem}. ` +
      (fix ??
        `If it is Debian's nats-server service, stop it with ` +
          "`sudo systemctl disable --now nats-server`; " +
          `or run Chorus on another port with --nats nats://127.0.0.1:${other}`),
  );
}

/**
 * What the server told us when we connected: Chorus's broker asks for a
 * password and has JetStream. Costs nothing; every node checks it.
 */
export function checkServerInfo(nc: NatsConnection, config: ChorusConfig): void {
  const info = nc.info;
  if (!info) return;
  if (info.auth_required !== true) {
    throw notChorus(config, "it lets anyone in (no users, so every client has every right)");
  }
  if (info.jetstream !== true) throw notChorus(config, "it has no JetStream");
}

/**
 * The listener role must be the restricted one of broker/nats.conf: a
 * listener asking for the stream list is refused by the broker itself.
 */
export async function checkListenerRole(config: ChorusConfig): Promise<void> {
  const nc = await connectBroker(config, "listener", "chorus-check", undefined, {
    reconnect: false,
    timeoutMs: 2000,
  }).catch((err: unknown) => {
    throw notChorus(
      config,
      `it refuses the listener role (${err instanceof Error ? err.message : String(err)})`,
      "Check CHORUS_LISTENER_PASSWORD, or start Chorus's own broker on another port with --nats",
    );
  });
  try {
    await nc.request("$JS.API.STREAM.NAMES", "", { timeout: 2000 });
    throw notChorus(config, "its listener role may use the JetStream API (not broker/nats.conf)");
  } catch (err) {
    if (err instanceof ChorusError) throw err;
    const refused = err instanceof PermissionViolationError;
    if (!refused && !(err instanceof Error && err.cause instanceof PermissionViolationError)) {
      throw notChorus(config, `its listener role is not restricted (${String(err)})`);
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/**
 * Is a broker answering at the configured URL? false when nothing is
 * listening; true when a Chorus broker is; a clear error for anything else.
 */
export async function findChorusBroker(config: ChorusConfig): Promise<boolean> {
  let nc: NatsConnection;
  try {
    nc = await connectBroker(config, "actor", "chorus-check", undefined, {
      reconnect: false,
      timeoutMs: 2000,
    });
  } catch (err) {
    if (!(err instanceof ChorusError) || err.code !== "UNAUTHORIZED") {
      if (await answersNats(config)) throw err;
      return false;
    }
    throw notChorus(
      config,
      "it refuses this data folder's actor secret",
      "If it is the Chorus broker of another data folder, use that folder (--data) or set " +
        "CHORUS_ACTOR_PASSWORD to its DATA/actor.secret; otherwise run Chorus on another port with --nats",
    );
  }
  try {
    checkServerInfo(nc, config);
  } finally {
    await nc.close().catch(() => undefined);
  }
  await checkListenerRole(config);
  return true;
}

/** Does anything speak NATS at the URL (whatever it thinks of our credentials)? */
async function answersNats(config: ChorusConfig): Promise<boolean> {
  try {
    const nc = await connect({ servers: serversOf(config), reconnect: false, timeout: 1000 });
    await nc.close();
    return true;
  } catch (err) {
    return (
      err instanceof AuthorizationError ||
      err instanceof UserAuthenticationExpiredError ||
      brokerWantsTls(err, undefined)
    );
  }
}
