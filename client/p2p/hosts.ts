/** Asking the prime which P2P hosts are playing now. */
import type { NatsConnection } from "@nats-io/transport-node";
import { call } from "../../actors/endpoint.js";
import type { HostView } from "../../actors/prime/hosts-protocol.js";
import { subjects } from "../../actors/subjects.js";

export type { HostView };

export async function listHosts(nc: NatsConnection, timeoutMs = 3000): Promise<HostView[]> {
  return call<HostView[]>(nc, subjects.primeHosts, {}, timeoutMs);
}
