/** Reading the prime's registry, page by page. */
import { at } from "../wire/contract.js";
import { nodesPageLimit, primeNodes } from "../wire/prime.js";
import type { NatsConnection } from "@nats-io/transport-node";
import { call } from "../actors/runtime/endpoint.js";
import type { NodeView } from "../wire/presence.js";

export async function listNodes(nc: NatsConnection, timeoutMs = 3000): Promise<NodeView[]> {
  const all: NodeView[] = [];
  for (;;) {
    const page = await call(
      nc,
      at(primeNodes),
      { offset: all.length, limit: nodesPageLimit },
      timeoutMs,
    );
    all.push(...page);
    if (page.length < nodesPageLimit) return all;
  }
}
