/**
 * Every Chorus node is discoverable as the nats CLI discovers services:
 * `nats micro ls` ($SRV.PING), `info` ($SRV.INFO) and `stats` ($SRV.STATS),
 * with the endpoints each node serves from the wire/ declarations.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { call, request } from "../actors/runtime/endpoint.js";
import { discover } from "../actors/runtime/micro.js";
import { chorusVersion } from "../actors/runtime/version.js";
import { authLogin, authVerify } from "../wire/auth.js";
import { at } from "../wire/contract.js";
import { ChorusError } from "../wire/errors.js";
import { nodeClaim, primeSpawn } from "../wire/prime.js";
import { TestSystem } from "../harness/system.js";

describe("$SRV discovery of Chorus nodes (real nats-server, real processes)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let nc: NatsConnection;

  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    nc = await sys.connect("actor");
  });
  after(async () => sys.cleanup());

  it("answers $SRV.PING from the prime, a plane, an auth and a file node; INFO lists their endpoints; STATS counts", async () => {
    const prime = await sys.startControl("prime", sys.config("prime", { maxLoad: 1 }));
    const plane = await sys.startControl("plane", sys.config("plane"));
    const auth = await call(nc, at(primeSpawn), { kind: "auth" }, 20_000);
    sys.track(auth.pid);
    const file = await call(nc, at(primeSpawn), { kind: "file" }, 20_000);
    sys.track(file.pid);

    const pings = await discover(nc, "PING");
    const seen = pings.map((p) => `${p.name}/${p.id}`).sort();
    expect(seen).to.deep.equal(
      [
        `chorus-auth/${auth.id}`,
        `chorus-file/${file.id}`,
        `chorus-plane/${plane.id}`,
        `chorus-prime/${prime.id}`,
      ].sort(),
    );
    for (const p of pings) expect(p.version).to.equal(chorusVersion);

    const [authInfo] = await discover(nc, "INFO", { name: "chorus-auth", id: auth.id });
    const subjects = authInfo?.endpoints.map((e) => `${e.name} ${e.subject}`);
    expect(subjects).to.include.members([
      `auth-login ${at(authLogin, auth.id).subject}`,
      `auth-verify ${at(authVerify, auth.id).subject}`,
      `node-claim ${at(nodeClaim, auth.id).subject}`,
    ]);
    const [primeInfo] = await discover(nc, "INFO", { name: "chorus-prime" });
    expect(primeInfo?.endpoints.map((e) => e.subject)).to.include.members([
      "chorus.prime.assign",
      "chorus.prime.spawn",
      "chorus.prime.join",
    ]);

    // Two real requests at the auth node: one that works, one refused.
    await call(nc, at(nodeClaim, auth.id), {});
    const refused = await request(nc, at(authVerify, auth.id).subject, {
      sessionId: "nope",
      token: "nope",
    }).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(ChorusError).with.property("code", "UNAUTHORIZED");
    const [stats] = await discover(nc, "STATS", { name: "chorus-auth", id: auth.id });
    const byName = new Map(stats?.endpoints.map((e) => [e.name, e]));
    expect(byName.get("node-claim")).to.include({ num_requests: 1, num_errors: 0 });
    expect(byName.get("auth-verify")).to.include({ num_requests: 1, num_errors: 1 });
    expect(byName.get("auth-verify")?.last_error).to.match(/^UNAUTHORIZED/);
    expect(byName.get("node-claim")?.processing_time).to.be.above(0);
  });

  it("does not let a listener discover nodes: $SRV is for actors and operators", async () => {
    const listener = await sys.connect("listener");
    const err = await listener.request("$SRV.PING", "{}", { timeout: 2000 }).catch((e) => e);
    expect(String(err)).to.match(/permission/i);
  });
});
