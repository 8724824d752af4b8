/** Asking the prime which P2P hosts are playing now. */
import type { NatsConnection } from "@nats-io/transport-node";
import { call } from "../../actors/runtime/endpoint.js";
import type { HostView } from "../../wire/p2p.js";
import { subjects } from "../../wire/subjects.js";

export type { HostView };

export async function listHosts(nc: NatsConnection, timeoutMs = 3000): Promise<HostView[]> {
  return call<HostView[]>(nc, subjects.primeHosts, {}, timeoutMs);
}
