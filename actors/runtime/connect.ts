/**
 * Broker connections, each with one identity (actors/runtime/broker-auth.ts):
 * nodes and operator tools as the actor, clients before login as the public
 * listener, a logged-in client as its session. All reconnect forever (with
 * the identity's newest JWT), and we log status changes.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  AuthorizationError,
  connect,
  jwtAuthenticator,
  UserAuthenticationExpiredError,
  type Authenticator,
  type NatsConnection,
} from "@nats-io/transport-node";
import type { ChorusConfig } from "./config.js";
import { ChorusError } from "../../wire/errors.js";
import { actorInboxPrefix } from "../../wire/ids.js";
import { publicInboxPrefix } from "../../wire/permissions.js";
import { actorJwt, brokerKeys, publicJwt } from "./broker-auth.js";
import { brokerWantsTls, clientTls, untrustedBroker } from "../../broker/tls.js";
import { actorPasswordOf, knownActorSecret } from "./identity.js";
import type { Logger } from "./log.js";

export type BrokerRole = "actor" | "listener";

/** Who a connection is: how it authenticates (on every reconnect) and where its replies go. */
export interface BrokerIdentity {
  authenticator: Authenticator;
  inboxPrefix: string;
  /** For error messages: what to check when the broker refuses it. */
  hint: string;
}

/** Where a broker machine keeps the public listener JWT for players elsewhere. */
export function listenerTokenFile(config: ChorusConfig): string {
  return path.join(config.data, "listener.jwt");
}

/** The identity of a role: made from the actor secret where it is known. */
export async function roleIdentity(
  config: ChorusConfig,
  role: BrokerRole,
): Promise<BrokerIdentity> {
  if (role === "actor") {
    const keys = brokerKeys(actorPasswordOf(config));
    return {
      authenticator: jwtAuthenticator(await actorJwt(keys), keys.actor.getSeed()),
      // Replies to actors go where no client may subscribe.
      inboxPrefix: actorInboxPrefix,
      hint: "set CHORUS_ACTOR_PASSWORD to the broker machine's DATA/actor.secret",
    };
  }
  let token = config.listenerToken;
  const secret = knownActorSecret(config);
  if (secret) token = await publicJwt(brokerKeys(secret));
  else if (!token && existsSync(listenerTokenFile(config))) {
    token = readFileSync(listenerTokenFile(config), "utf8").trim();
  }
  if (!token) {
    throw new ChorusError(
      "UNAUTHORIZED",
      "no listener identity: set CHORUS_LISTENER_TOKEN to a broker machine's DATA/listener.jwt",
    );
  }
  return {
    authenticator: jwtAuthenticator(token),
    inboxPrefix: publicInboxPrefix,
    hint: "set CHORUS_LISTENER_TOKEN to the broker machine's DATA/listener.jwt",
  };
}

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

export interface ConnectOptions {
  reconnect?: boolean;
  timeoutMs?: number;
  /** TLS to the broker (default: off loopback, see broker/tls.ts). */
  tls?: boolean;
}

export async function connectBroker(
  config: ChorusConfig,
  role: BrokerRole,
  name: string,
  log?: Logger,
  options: ConnectOptions = {},
): Promise<NatsConnection> {
  return connectAs(config, await roleIdentity(config, role), name, log, options);
}

export async function connectAs(
  config: ChorusConfig,
  identity: BrokerIdentity,
  name: string,
  log?: Logger,
  options: ConnectOptions = {},
): Promise<NatsConnection> {
  const tls = clientTls(config, serversOf(config), options.tls);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: serversOf(config),
      name,
      authenticator: identity.authenticator,
      inboxPrefix: identity.inboxPrefix,
      reconnect: options.reconnect ?? true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: options.timeoutMs ?? 3000,
      // Our own presence beats detect dead peers; this only catches half-open sockets.
      pingInterval: 10_000,
      // An Error (with its stack) made up front for every request and publish
      // cost a busy file node a tenth of its CPU; our errors say what failed.
      noAsyncTraces: true,
      tls,
    });
  } catch (err) {
    // A broker on every address asks its loopback clients for TLS too: again, with the CA.
    if (brokerWantsTls(err, tls))
      return connectAs(config, identity, name, log, { ...options, tls: true });
    const untrusted = untrustedBroker(config, err, tls);
    if (untrusted) throw untrusted;
    const message = (err as Error).message;
    if (err instanceof AuthorizationError || err instanceof UserAuthenticationExpiredError) {
      throw new ChorusError(
        "UNAUTHORIZED",
        `the broker at ${config.nats} refused ${name}'s credentials: ${identity.hint}`,
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
