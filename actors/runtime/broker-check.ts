/**
 * Chorus runs only on a Chorus broker: one started with broker/nats.conf,
 * which has JetStream and trusts this deployment's operator (so it takes our
 * actor JWT; the public and session identities' rights are in JWTs we mint,
 * which no broker can widen). Anything else answering on the port (Debian's own
 * nats-server service, another project's broker) is refused with one message
 * that says what is wrong and how to fix it, instead of half working.
 */
import {
  AuthorizationError,
  connect,
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
