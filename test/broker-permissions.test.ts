import { at } from "../wire/contract.js";
import { authLogin, authVerify } from "../wire/auth.js";
import { filePlay } from "../wire/file.js";
import { controlSpawn, nodeClaim, primeAssign, primeNodes, primeSpawn } from "../wire/prime.js";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { createUser } from "@nats-io/nkeys";
import { actorInboxPrefix } from "../wire/ids.js";
import { sessionInboxPrefix } from "../wire/permissions.js";
import { call, request } from "../actors/runtime/endpoint.js";
import { encodeJson } from "../wire/codec.js";
import { ChorusError } from "../wire/errors.js";
import { endpoints, subjects } from "../wire/subjects.js";
import { TestSystem, violations } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";

describe("broker roles (real nats-server with broker/nats.conf)", function () {
  this.timeout(30_000);
  let sys: TestSystem;
  let actor: NatsConnection;
  /** A stranger: the public identity, before any login. */
  let listener: NatsConnection;
  /** A logged-in player: its session's own identity. */
  let player: NatsConnection;
  let primeId: string;

  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    primeId = (await sys.startControl("prime", sys.config("prime", { maxLoad: 2 }))).id;
    actor = await sys.connect("actor");
    listener = await sys.connect("listener");
    player = (await sys.login()).nc;
  });
  after(async () => sys.cleanup());

  it("lets a stranger call only assign and login, and a player exactly the listener endpoints", async () => {
    expect(endpoints.filter((e) => e.callers === "actor")).to.not.have.length(0);
    expect(endpoints.filter((e) => e.callers === "anyone")).to.have.length(2);
    for (const endpoint of endpoints) {
      // An empty body is refused by every endpoint: nothing is spawned or changed.
      const subject = endpoint.subject.replace(/<[A-Za-z]+>/g, primeId);
      const codeOf = async (nc: NatsConnection): Promise<string> => {
        const err = await request(nc, subject, {}, 2000).catch((e: unknown) => e);
        return err instanceof ChorusError ? err.code : String(err);
      };
      const stranger = await codeOf(listener);
      if (endpoint.callers === "anyone") expect(stranger, subject).to.not.equal("FORBIDDEN");
      else expect(stranger, subject).to.equal("FORBIDDEN");
      const logged = await codeOf(player);
      if (endpoint.callers === "actor") expect(logged, subject).to.equal("FORBIDDEN");
      else expect(logged, subject).to.not.equal("FORBIDDEN");
    }
  });

  it("lets a player make a player's requests and read the reply", async () => {
    const nodes = await call(player, at(primeNodes), {});
    expect(nodes.map((n) => n.id)).to.include(primeId);
  });

  it("denies a player publishing presence: the forged node never reaches the registry", async () => {
    const seen = violations(player);
    const forged = { ...(await sys.nodes(actor))[0], id: "forged-1", kind: "auth", status: "up" };
    player.publish(subjects.presence("auth", "forged-1"), encodeJson(forged));
    await waitFor(() => seen.some((m) => m.includes("chorus.presence.auth.forged-1")), "denial");
    const ids = (await sys.nodes(actor)).map((n) => n.id);
    expect(ids).not.to.include("forged-1");
  });

  it("denies a stranger and a player spawning nodes, at the prime and at a control node", async () => {
    const before = (await sys.nodes(actor)).map((n) => n.id).sort();
    for (const nc of [listener, player]) {
      for (const route of [at(primeSpawn), at(controlSpawn, primeId)]) {
        const subject = route.subject;
        const err = await request(nc, subject, { kind: "auth" }).catch((e: unknown) => e);
        expect(err, subject).to.be.instanceOf(ChorusError).with.property("code", "FORBIDDEN");
      }
    }
    expect((await sys.nodes(actor)).map((n) => n.id).sort()).to.deep.equal(before);
  });

  it("denies a stranger and a player subscribing to actors' subjects and others' inboxes", async () => {
    for (const [nc, subject] of [listener, player].flatMap((nc) =>
      [
        "_INBOX.>",
        "_INBOX.*.>",
        `${sessionInboxPrefix(createUser().getPublicKey())}.>`,
        "chorus.relay.>",
        at(primeAssign).subject,
        at(primeNodes).subject,
        at(nodeClaim, "x").subject,
        at(authLogin, "x").subject,
        at(authVerify, "x").subject,
        at(filePlay, "x").subject,
        "chorus.>",
        `${actorInboxPrefix}.>`,
        ">",
      ].map((subject) => [nc, subject] as const),
    )) {
      const sub = nc.subscribe(subject);
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

  it("denies a stranger and a player publishing into another client's reply inbox", async () => {
    for (const nc of [listener, player]) {
      const seen = violations(nc);
      nc.publish("_INBOX.someone-else.1", encodeJson({ ok: true, data: "forged" }));
      await waitFor(() => seen.some((m) => m.includes("_INBOX.someone-else.1")), "denial");
    }
  });

  it("denies a listener creating, changing, purging or deleting streams", async () => {
    const jsm = await jetstreamManager(actor);
    await jsm.streams.add({ name: "PERMTEST", subjects: ["permtest.>"] });
    const ljsm = await jetstreamManager(player);
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
