/**
 * Broker connections. Actors connect as the `actor` user, players and
 * commands as `listener`; both reconnect forever, and we log status changes.
 */
import {
  AuthorizationError,
  connect,
  UserAuthenticationExpiredError,
  type NatsConnection,
} from "@nats-io/transport-node";
import type { ChorusConfig } from "./config.js";
import { ChorusError } from "../../wire/errors.js";
import { actorInboxPrefix } from "../../wire/ids.js";
import { brokerWantsTls, clientTls, untrustedBroker } from "../../broker/tls.js";
import { actorPasswordOf } from "./identity.js";
import type { Logger } from "./log.js";

export type BrokerRole = "actor" | "listener";

export function serversOf(config: ChorusConfig): string[] {
  return config.nats
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The host and port of the first broker URL (where `chorus up` listens). */
export function listenAddress(config: ChorusConfig): { host: string; port: number } {
  const first = serversOf(config)[0] ?? "nats://127.0.0.1:4222";
  const url = new URL(first.includes("://") ? first : `nats://${first}`);
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 4222) };
}

export async function connectBroker(
  config: ChorusConfig,
  role: BrokerRole,
  name: string,
  log?: Logger,
  options: { reconnect?: boolean; timeoutMs?: number; tls?: boolean } = {},
): Promise<NatsConnection> {
  const pass = role === "actor" ? actorPasswordOf(config) : config.listenerPassword;
  const tls = clientTls(config, serversOf(config), options.tls);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: serversOf(config),
      name,
      user: role,
      pass,
      reconnect: options.reconnect ?? true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: options.timeoutMs ?? 3000,
      // Our own presence beats detect dead peers; this only catches half-open sockets.
      pingInterval: 10_000,
      tls,
      // Replies to actors go where listeners (who may read `_INBOX.>`) cannot subscribe.
      // (actorInboxPrefix: the broker keeps listeners out of it.)
      ...(role === "actor" ? { inboxPrefix: actorInboxPrefix } : {}),
    });
  } catch (err) {
    // A broker on every address asks its loopback clients for TLS too: again, with the CA.
    if (brokerWantsTls(err, tls))
      return connectBroker(config, role, name, log, { ...options, tls: true });
    const untrusted = untrustedBroker(config, err, tls);
    if (untrusted) throw untrusted;
    const message = (err as Error).message;
    if (err instanceof AuthorizationError || err instanceof UserAuthenticationExpiredError) {
      const hint =
        role === "actor"
          ? "set CHORUS_ACTOR_PASSWORD to the broker machine's DATA/actor.secret"
          : "check CHORUS_LISTENER_PASSWORD";
      throw new ChorusError(
        "UNAUTHORIZED",
        `the broker at ${config.nats} refused the ${role} credentials: ${hint}`,
        { cause: err },
      );
    }
    throw new ChorusError("UNAVAILABLE", `cannot reach the broker at ${config.nats}: ${message}`, {
      cause: err,
    });
  }
  if (log) void logStatus(nc, log);
  return nc;
}

async function logStatus(nc: NatsConnection, log: Logger): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === "disconnect" || s.type === "reconnect") {
      log.info(`broker ${s.type}`, { server: s.server });
    } else if (s.type === "error") {
      log.warn("broker error", { error: String(s.error) });
    }
  }
}
