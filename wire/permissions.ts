/**
 * The listener role's broker permissions, made from the contract: a listener
 * may call exactly the endpoints declared `callers: "listener"`, publish its
 * own P2P presence and relay frames, and read replies and host presence.
 * broker/server.ts writes them into the broker's run configuration.
 */
import { wildcard } from "./contract.js";
import { endpoints } from "./subjects.js";

export interface Permissions {
  publish: string[];
  subscribe: string[];
}

/** What a listener publishes that is not a request to a Chorus endpoint, and why. */
const listenerTopics = [
  // P2P: a playing client's presence and the frames it relays (signed: others' are dropped).
  "chorus.hosts.*",
  "chorus.relay.*",
  // nats.js asks for JetStream's account info; the answer holds no one's data.
  "$JS.API.INFO",
  // Flow control replies for the audio a file node's push consumer sends to the listener's inbox.
  "$JS.FC.>",
];

export function listenerPermissions(): Permissions {
  const requests = endpoints
    .filter((e) => e.callers === "listener")
    .map((e) => wildcard(e.subject));
  return {
    publish: [...requests, ...listenerTopics],
    subscribe: ["_INBOX.>", "chorus.hosts.>"],
  };
}

/**
 * The broker's users as a nats-server `authorization` block: the actor role
 * may do everything, the listener role what the contract allows. Passwords
 * come from the environment nats-server is started with.
 */
export function authorizationConf(): string {
  const { publish, subscribe } = listenerPermissions();
  const list = (subjects: string[]): string => subjects.map((s) => JSON.stringify(s)).join(", ");
  return [
    "authorization {",
    "  users = [",
    "    { user: actor, password: $CHORUS_ACTOR_PASSWORD }",
    "    {",
    "      user: listener, password: $CHORUS_LISTENER_PASSWORD",
    "      permissions: {",
    `        publish: { allow: [${list(publish)}] }`,
    `        subscribe: { allow: [${list(subscribe)}] }`,
    "      }",
    "    }",
    "  ]",
    "}",
  ].join("\n");
}
