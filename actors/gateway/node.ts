/**
 * The gateway node: the HTTP edge (the OpenSubsonic API) as one more actor.
 * It beats presence like every node and does all its work through the
 * system as a client would: users log in at auth nodes the prime picks,
 * songs and bytes come from file nodes, each with that user's session.
 *
 * Broker identity: the actor's (it is a node, and one connection carries
 * every user's session). That identity could read anything, so the gateway
 * never serves from it directly: every listing, read and stream is a
 * request that carries the Subsonic user's own Chorus session, which the
 * file node verifies at its auth node; a user gets exactly what their
 * session may have, and no session means no data.
 */
import type { Actor } from "../runtime/actor.js";
import { SubsonicApi } from "./api.js";
import { FileNodes } from "./files.js";
import { GatewayHttp } from "./http.js";
import { GatewayUsers } from "./users.js";
import { UserItemsClient } from "./items.js";
import { watchUserChanges } from "./user-changes.js";

export async function startGatewayNode(actor: Actor): Promise<void> {
  await actor.start();
  const users = new GatewayUsers(actor.nc, actor.log.child("users"));
  watchUserChanges(actor, users);
  const items = new UserItemsClient(actor.nc);
  const api = new SubsonicApi(users, new FileNodes(actor.nc), items, actor.log);
  const http = new GatewayHttp(api, actor.log.child("http"));
  actor.setLoad(() => http.active);
  const address = await http.listen(actor.config.http);
  actor.onStop(() => users.close());
  actor.onStop(() => http.close());
  actor.log.info("OpenSubsonic API listening", {
    url: `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}/rest/`,
  });
}
