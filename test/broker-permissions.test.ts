import { at } from "../wire/contract.js";
import { authLogin, authVerify } from "../wire/auth.js";
import { filePlay } from "../wire/file.js";
import { controlSpawn, nodeClaim, primeAssign, primeNodes, primeSpawn } from "../wire/prime.js";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { actorInboxPrefix } from "../wire/ids.js";
import { call, request } from "../actors/runtime/endpoint.js";
import { encodeJson } from "../wire/codec.js";
import { ChorusError } from "../wire/errors.js";
import { endpoints, subjects } from "../wire/subjects.js";
import { TestSystem } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";

/** Collect the permission violations the broker reports on a connection. */
function violations(nc: NatsConnection): string[] {
  const seen: string[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === "error") seen.push(s.error.message);
  })();
  return seen;
}

describe("broker roles (real nats-server with broker/nats.conf)", function () {
  this.timeout(30_000);
  let sys: TestSystem;
  let actor: NatsConnection;
  let listener: NatsConnection;
  let primeId: string;

  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    primeId = (await sys.startControl("prime", sys.config("prime", { maxLoad: 2 }))).id;
    actor = await sys.connect("actor");
    listener = await sys.connect("listener");
  });
  after(async () => sys.cleanup());

  it("lets a listener call exactly the endpoints the contract declares for listeners", async () => {
    expect(endpoints.filter((e) => e.callers === "actor")).to.not.have.length(0);
    for (const endpoint of endpoints) {
      // An empty body is refused by every endpoint: nothing is spawned or changed.
      const subject = endpoint.subject.replace(/<[A-Za-z]+>/g, primeId);
      const err = await request(listener, subject, {}, 2000).catch((e: unknown) => e);
      const code = err instanceof ChorusError ? err.code : String(err);
      if (endpoint.callers === "listener") expect(code, subject).to.not.equal("FORBIDDEN");
      else expect(code, subject).to.equal("FORBIDDEN");
    }
  });

  it("lets a listener make a player's requests and read the reply", async () => {
    const nodes = await call(listener, at(primeNodes), {});
    expect(nodes.map((n) => n.id)).to.include(primeId);
  });

  it("denies a listener publishing presence: the forged node never reaches the registry", async () => {
    const seen = violations(listener);
    const forged = { ...(await sys.nodes(actor))[0], id: "forged-1", kind: "auth", status: "up" };
    listener.publish(subjects.presence("auth", "forged-1"), encodeJson(forged));
    await waitFor(() => seen.some((m) => m.includes("chorus.presence.auth.forged-1")), "denial");
    const ids = (await sys.nodes(actor)).map((n) => n.id);
    expect(ids).not.to.include("forged-1");
  });

  it("denies a listener spawning nodes, at the prime and at a control node", async () => {
    for (const route of [at(primeSpawn), at(controlSpawn, primeId)]) {
      const subject = route.subject;
      const err = await request(listener, subject, { kind: "auth" }).catch((e: unknown) => e);
      expect(err, subject).to.be.instanceOf(ChorusError).with.property("code", "FORBIDDEN");
    }
    expect((await sys.nodes(actor)).map((n) => n.kind)).to.deep.equal(["prime"]);
  });

  it("denies a listener subscribing to actors' request subjects and reply inboxes", async () => {
    for (const subject of [
      at(primeAssign).subject,
      at(primeNodes).subject,
      at(nodeClaim, "x").subject,
      at(authLogin, "x").subject,
      at(authVerify, "x").subject,
      at(filePlay, "x").subject,
      "chorus.>",
      `${actorInboxPrefix}.>`,
      ">",
    ]) {
      const sub = listener.subscribe(subject);
      const err = await (async () => {
        try {
          for await (const m of sub) return m;
        } catch (e) {
          return e;
        }
      })();
      expect(err, subject)
        .to.be.instanceOf(Error)
        .with.property("message")
        .that.match(/Permissions Violation for Subscription/);
    }
  });

  it("denies a listener publishing into another client's reply inbox", async () => {
    const seen = violations(listener);
    listener.publish("_INBOX.someone-else.1", encodeJson({ ok: true, data: "forged" }));
    await waitFor(() => seen.some((m) => m.includes("_INBOX.someone-else.1")), "denial");
  });

  it("denies a listener creating, changing, purging or deleting streams", async () => {
    const jsm = await jetstreamManager(actor);
    await jsm.streams.add({ name: "PERMTEST", subjects: ["permtest.>"] });
    const ljsm = await jetstreamManager(listener);
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ["create", () => ljsm.streams.add({ name: "EVIL", subjects: ["evil.>"] })],
      ["update", () => ljsm.streams.update("PERMTEST", { max_msgs: 1 })],
      ["purge", () => ljsm.streams.purge("PERMTEST")],
      ["delete", () => ljsm.streams.delete("PERMTEST")],
    ];
    for (const [what, attempt] of attempts) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err, what)
        .to.be.instanceOf(Error)
        .with.property("message")
        .that.match(/Permissions Violation/);
    }
    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    expect(names).to.include("PERMTEST").and.not.include("EVIL");
  });
});
