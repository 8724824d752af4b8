/** Asking the prime which P2P hosts are playing now. */
import { at } from "../../wire/contract.js";
import { primeHosts } from "../../wire/p2p.js";
import type { NatsConnection } from "@nats-io/transport-node";
import { call } from "../../actors/runtime/endpoint.js";
import type { HostView } from "../../wire/p2p.js";

export type { HostView };

export async function listHosts(nc: NatsConnection, timeoutMs = 3000): Promise<HostView[]> {
  return call(nc, at(primeHosts), {}, timeoutMs);
}
